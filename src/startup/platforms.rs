//! Settings and the backend's secrets → each chat platform's settings and clients: the Slack
//! signing secret and Web API client, the Teams token verifier and Bot Connector client. Each
//! secret comes from the environment, else from where the backend keeps it (SSM, the local
//! store), read once at start-up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use super::app::App;
use super::secrets::SecretName;
use crate::config::Settings;
use crate::domain::Platform;
use crate::front::client;
use crate::keys::SigningSecret;
use crate::slack::web::WebApi;
use crate::slack::SlackConfig;
use crate::teams::auth::BotAuth;
use crate::teams::connector::Connector;
use crate::teams::graph::Graph;
use crate::teams::TeamsConfig;

/// What an operator is told when outbound HTTPS cannot be set up.
pub const HTTPS_SETUP: &str =
    "cannot set up outbound HTTPS: check the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR";

/// The Slack Web API client the environment's bot token makes; `None` without one.
pub fn web_api_from_env(settings: &Settings) -> anyhow::Result<Option<Arc<WebApi>>> {
    let Some(token) = settings.slack_bot_token.clone() else {
        return Ok(None);
    };
    let api = WebApi::new(&settings.slack_api_url, token)?;
    Ok(Some(Arc::new(api)))
}

impl App {
    /// The Slack settings: the signing secret from the environment, the data directory (demo)
    /// or what the backend keeps (SSM, the local store); read once at start-up.
    pub async fn slack_config(&self, settings: &Settings) -> anyhow::Result<SlackConfig> {
        let secret = match settings.signing_secret() {
            Some(secret) => secret,
            None => {
                let name = SecretName::SlackSigningSecret;
                let value = self
                    .required_secret(settings, name, "OTPBOT_SLACK_SIGNING_SECRET")
                    .await?;
                SigningSecret::new(value.expose_secret().to_owned())
            }
        };
        if settings.slack_workspaces.is_empty() {
            tracing::warn!(
                "OTPBOT_SLACK_TEAM_IDS is empty: every Slack request will be refused; set it to \
                 the workspaces to serve"
            );
        }
        Ok(SlackConfig {
            signing_secret: secret,
            allowed_workspaces: settings.slack_workspaces.clone(),
            web_api: self.slack_web_api(settings).await?,
        })
    }

    /// The Slack Web API client with the bot token: from the environment, else what the
    /// backend keeps (SSM, the local store); `None` without a token.
    /// The engine reads Slack user groups through it from then on.
    pub async fn slack_web_api(&self, settings: &Settings) -> anyhow::Result<Option<Arc<WebApi>>> {
        let api = self.slack_token_api(settings).await?;
        if let Some(api) = &api {
            let groups = self.engine.core().groups();
            groups.serve(Platform::SlackGroup, api.clone());
        }
        Ok(api)
    }

    async fn slack_token_api(&self, settings: &Settings) -> anyhow::Result<Option<Arc<WebApi>>> {
        if let Some(api) = web_api_from_env(settings)? {
            return Ok(Some(api));
        }
        let token = self
            .stored_secret(settings, SecretName::SlackBotToken)
            .await?;
        let Some(token) = token else {
            return Ok(None);
        };
        let api = WebApi::new(&settings.slack_api_url, token.expose_secret().to_owned())?;
        Ok(Some(Arc::new(api)))
    }

    /// The Teams settings and clients, when Teams is configured; the client secret comes from
    /// the environment or, on AWS, its SSM parameter, read once. The engine reads Entra ID
    /// groups through Microsoft Graph with the same app registration from then on.
    pub async fn teams_config(&self, settings: &Settings) -> anyhow::Result<Option<TeamsConfig>> {
        let Some(teams) = &settings.teams else {
            return Ok(None);
        };
        if teams.playground {
            let http = client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
            return Ok(Some(TeamsConfig::playground(teams.tenants.clone(), http)));
        }
        let secret = match &teams.client_secret {
            Some(secret) => secret.clone(),
            None => {
                let name = SecretName::TeamsClientSecret;
                self.required_secret(settings, name, "OTPBOT_TEAMS_CLIENT_SECRET")
                    .await?
            }
        };
        let http = client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
        let graph = Graph::new(
            http.clone(),
            (teams.login_url.clone(), teams.graph_url.clone()),
            teams.app_tenant.clone(),
            teams.app_id.clone(),
            secret.clone(),
        );
        let groups = self.engine.core().groups();
        groups.serve(Platform::EntraGroup, Arc::new(graph));
        Ok(Some(TeamsConfig {
            auth: BotAuth::new(teams.app_id.clone(), teams.openid_url.clone(), http.clone()),
            connector: Connector::new(
                http,
                teams.login_url.clone(),
                teams.app_tenant.clone(),
                teams.app_id.clone(),
                secret,
            ),
            allowed_tenants: teams.tenants.clone(),
            service_url: teams.service_url.clone(),
        }))
    }
}
