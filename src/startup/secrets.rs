//! The deployment's own secrets (the Slack signing secret and bot token, the Teams client
//! secret, the audit key on AWS): their names, and where the backend keeps them when the
//! environment does not give them — on AWS their SSM parameters, on the local store the values
//! `otpbot secret set` stored there, encrypted under the master key.

use anyhow::Context;
use clap::ValueEnum;

use super::app::App;
use crate::config::Settings;

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretName {
    /// The Slack app's signing secret.
    SlackSigningSecret,
    /// The audit HMAC key (64 hex characters; AWS only: locally it is the audit.key file);
    /// `--generate` makes a random one.
    AuditKey,
    /// The Teams bot's client secret.
    TeamsClientSecret,
    /// The Slack bot token (`xoxb-…`), for access-request messages and issuance notices.
    SlackBotToken,
}

impl SecretName {
    /// The name as typed, which is also its name in the local store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlackSigningSecret => "slack-signing-secret",
            Self::AuditKey => "audit-key",
            Self::TeamsClientSecret => "teams-client-secret",
            Self::SlackBotToken => "slack-bot-token",
        }
    }

    /// What it is, for messages and the parameter's description.
    pub fn description(self) -> &'static str {
        match self {
            Self::SlackSigningSecret => "otpbot Slack signing secret",
            Self::AuditKey => "otpbot audit HMAC key",
            Self::TeamsClientSecret => "otpbot Teams client secret",
            Self::SlackBotToken => "otpbot Slack bot token",
        }
    }

    /// Its SSM parameter (AWS backend).
    pub fn parameter(self, settings: &Settings) -> String {
        match self {
            Self::SlackSigningSecret => settings.signing_secret_param.clone(),
            Self::AuditKey => settings.audit_key_param.clone(),
            Self::SlackBotToken => settings.slack_bot_token_param.clone(),
            Self::TeamsClientSecret => {
                let prefix = settings.aws.ssm_prefix.trim_end_matches('/');
                settings
                    .teams
                    .as_ref()
                    .map(|t| t.client_secret_param.clone())
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| format!("{prefix}/teams/client-secret"))
            }
        }
    }
}

impl App {
    /// A deployment secret the backend keeps: on AWS its SSM parameter, on the local store the
    /// value `otpbot secret set` stored there. `None` when it was never written.
    pub async fn stored_secret(
        &self,
        settings: &Settings,
        name: SecretName,
    ) -> anyhow::Result<Option<secrecy::SecretString>> {
        if let Some(store) = &self.aws {
            let param = name.parameter(settings);
            return store.parameter(&param).await.with_context(|| {
                format!(
                    "cannot read the {} from SSM parameter {param}: check the AWS credentials \
                     and region, and that they may ssm:GetParameter it",
                    name.as_str()
                )
            });
        }
        #[cfg(feature = "local")]
        if let Some(store) = &self.local {
            let value = store.secret(name.as_str()).await.with_context(|| {
                format!("cannot read the {} from the local store", name.as_str())
            })?;
            return Ok(value.map(|v| secrecy::SecretString::from(v.as_str())));
        }
        Ok(None)
    }

    /// A secret that must be set: from [`App::stored_secret`], or an error that says where it
    /// was looked for and how to put it there.
    pub async fn required_secret(
        &self,
        settings: &Settings,
        name: SecretName,
        var: &str,
    ) -> anyhow::Result<secrecy::SecretString> {
        if let Some(value) = self.stored_secret(settings, name).await? {
            return Ok(value);
        }
        let store = match &self.aws {
            Some(_) => format!("SSM parameter {} does not exist", name.parameter(settings)),
            None => "the local store holds none".to_owned(),
        };
        anyhow::bail!(
            "{var} is not set and {store}: write it with `otpbot secret set {}`, or set {var} \
             (or {var}_FILE)",
            name.as_str()
        )
    }
}
