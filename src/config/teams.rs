//! The Teams settings: the bot's registration and its served tenants, or the local playground.

use std::collections::HashSet;

use super::args::SettingsArgs;
use super::error::{invalid, ConfigError};
use super::secrets::{secret, Parameters};
use super::values::PLAYGROUND_TENANT;
use crate::teams::auth::DEFAULT_OPENID_URL;
use crate::teams::connector::DEFAULT_LOGIN_URL;

/// Teams (Bot Framework) settings.
#[derive(Debug)]
pub struct TeamsSettings {
    /// The bot's Microsoft App ID: the audience of incoming tokens.
    pub app_id: String,
    /// Served tenants.
    pub tenants: HashSet<String>,
    /// The tenant of the single-tenant bot registration.
    pub app_tenant: String,
    /// The client secret, if given directly.
    pub client_secret: Option<secrecy::SecretString>,
    /// SSM parameter with the client secret (AWS backend).
    pub client_secret_param: String,
    /// OpenID metadata URL.
    pub openid_url: String,
    /// Login authority base URL: the bot's Bot Connector and Microsoft Graph tokens.
    pub login_url: String,
    /// Microsoft Graph base URL (`OTPBOT_GRAPH_API_URL`).
    pub graph_url: String,
    /// Bot Connector service URL for messages outside any request (`OTPBOT_TEAMS_SERVICE_URL`).
    pub service_url: String,
    /// Serving the local Microsoft 365 Agents Playground: activities come without tokens and
    /// replies go to its loopback `http` service URL (see `Settings::enable_teams_playground`).
    pub playground: bool,
}

/// The Teams settings `args` give for the served `tenants`: `None` without an app id.
pub(super) fn from_args(
    args: &mut SettingsArgs,
    tenants: &[String],
    parameters: &Parameters,
) -> Result<Option<TeamsSettings>, ConfigError> {
    let Some(app_id) = args.teams_app_id.take().filter(|id| !id.trim().is_empty()) else {
        return Ok(None);
    };
    Ok(Some(TeamsSettings {
        app_id: app_id.trim().to_owned(),
        tenants: tenants.iter().cloned().collect(),
        app_tenant: args
            .teams_app_tenant_id
            .take()
            .or_else(|| tenants.first().cloned())
            .ok_or_else(|| {
                invalid(
                    "OTPBOT_TEAMS_TENANT_IDS",
                    "needs at least one tenant id when OTPBOT_TEAMS_APP_ID is set",
                )
            })?,
        client_secret: secret(
            "OTPBOT_TEAMS_CLIENT_SECRET",
            args.teams_client_secret.take(),
            args.teams_client_secret_file.take(),
        )?
        .map(secrecy::SecretString::from),
        client_secret_param: parameters
            .name(args.teams_client_secret_param.take(), "teams/client-secret"),
        openid_url: std::mem::take(&mut args.teams_openid_url),
        login_url: std::mem::take(&mut args.teams_login_url),
        graph_url: std::mem::take(&mut args.graph_api_url),
        service_url: std::mem::take(&mut args.teams_service_url),
        playground: false,
    }))
}

/// Serves Microsoft's local Teams emulator, the Microsoft 365 Agents Playground (npm
/// `@microsoft/m365agentsplayground`): it posts activities without an `Authorization` header
/// and takes replies at a plain-`http` loopback service URL without checking a token. So in
/// this mode no token is verified or fetched and loopback `http` service URLs are accepted;
/// `otpbot serve` refuses it unless it listens on loopback. Teams needs no app id or secret
/// here, only the served `tenants` (the playground's is [`PLAYGROUND_TENANT`]).
pub(super) fn playground(
    teams: &mut Option<TeamsSettings>,
    tenants: &[String],
) -> Result<(), ConfigError> {
    let Some(first) = tenants.first().cloned() else {
        return Err(invalid(
            "OTPBOT_TEAMS_TENANT_IDS",
            format!(
                "the Teams playground needs its tenant to be served: set it to {PLAYGROUND_TENANT}"
            ),
        ));
    };
    match teams {
        Some(teams) => teams.playground = true,
        None => {
            *teams = Some(TeamsSettings {
                app_id: String::new(),
                tenants: tenants.iter().cloned().collect(),
                app_tenant: first,
                client_secret: None,
                client_secret_param: String::new(),
                openid_url: DEFAULT_OPENID_URL.into(),
                login_url: DEFAULT_LOGIN_URL.into(),
                graph_url: crate::teams::graph::DEFAULT_GRAPH_URL.into(),
                service_url: crate::teams::DEFAULT_SERVICE_URL.into(),
                playground: true,
            })
        }
    }
    Ok(())
}
