//! `otpbot secret set`: writes the deployment's secrets into their SSM SecureString parameters
//! (AWS backend), read from stdin or a hidden prompt, never from arguments. Terraform only names
//! these parameters, so their values never reach Terraform state.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{operator_request, App};
use crate::config::{Backend, Settings};
use crate::domain::{Action, Outcome};
use crate::engine::Draft;

/// Which secret.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SecretName {
    /// The Slack app's signing secret.
    SlackSigningSecret,
    /// The audit HMAC key (64 hex characters); `--generate` makes a random one.
    AuditKey,
    /// The Teams bot's client secret.
    TeamsClientSecret,
    /// The Slack bot token (`xoxb-…`), for access-request messages and issuance notices.
    SlackBotToken,
}

/// `otpbot secret set`
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// The secret to write.
    pub name: SecretName,
    /// Generate a random value instead of reading one (audit key only).
    #[arg(long)]
    pub generate: bool,
}

/// Writes one secret.
pub async fn set(mut settings: Settings, args: SecretArgs) -> anyhow::Result<()> {
    if settings.backend != Backend::Aws {
        bail!("`otpbot secret set` writes SSM parameters and needs OTPBOT_BACKEND=aws; locally, use the OTPBOT_*_FILE settings");
    }
    let (parameter, description) = match args.name {
        SecretName::SlackSigningSecret => (
            settings.signing_secret_param.clone(),
            "otpbot Slack signing secret",
        ),
        SecretName::AuditKey => (settings.audit_key_param.clone(), "otpbot audit HMAC key"),
        SecretName::SlackBotToken => (
            settings.slack_bot_token_param.clone(),
            "otpbot Slack bot token",
        ),
        SecretName::TeamsClientSecret => {
            let prefix = settings.aws.ssm_prefix.trim_end_matches('/');
            let name = settings
                .teams
                .as_ref()
                .map(|t| t.client_secret_param.clone());
            (
                name.unwrap_or_else(|| format!("{prefix}/teams/client-secret")),
                "otpbot Teams client secret",
            )
        }
    };
    let value = match (args.name, args.generate) {
        (SecretName::AuditKey, true) => {
            Zeroizing::new(hex::encode(crate::keys::random_key().expose_secret()))
        }
        (_, true) => {
            bail!("--generate is only for the audit key; other secrets come from Slack or Azure")
        }
        (_, false) => read_value(description)?,
    };
    if matches!(args.name, SecretName::AuditKey) {
        crate::keys::decode_hex_key(&value, "the audit key")?;
    }
    if value.is_empty() {
        bail!("empty value");
    }
    // The audit key itself is set here, so the engine is opened with it to record the change.
    if matches!(args.name, SecretName::AuditKey) && settings.audit_key.is_none() {
        settings.audit_key = Some(crate::keys::decode_hex_key(&value, "the audit key")?);
    }
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, super::Patience::Operator).await?;
    let store = app.aws.as_ref().context("the AWS backend is not open")?;
    // SSM and the audit table share no transaction, so the record comes first: a secret is
    // never changed without one. If the audit table cannot take it, nothing is written; if SSM
    // then refuses, a second record says so.
    let draft = Draft::new(Action::SecretSet, Outcome::Ok)
        .detail(format!("writing secret parameter {parameter}"));
    app.engine
        .audit(&operator_request(), draft)
        .await
        .context("cannot write the audit record, so the secret was not changed")?;
    if let Err(e) = store
        .put_secret_parameter(&parameter, &value, description)
        .await
    {
        let draft = Draft::new(Action::SecretSet, Outcome::Error)
            .detail(format!("secret parameter {parameter} NOT written"));
        let recorded = app.engine.audit(&operator_request(), draft).await.is_ok();
        bail!(
            "cannot write {parameter}, which is unchanged{}: {e}",
            if recorded {
                ""
            } else {
                " (the audit log shows the attempt without its failure)"
            }
        );
    }
    say!("Wrote {description} to {parameter} (SecureString).");
    Ok(())
}

fn read_value(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let raw = super::read_secret(&format!("{what} (hidden): "), 16 * 1024)?;
    Ok(Zeroizing::new(raw.trim().to_owned()))
}
