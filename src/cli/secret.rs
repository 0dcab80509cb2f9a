//! `otpbot secret set`: writes a deployment secret, read from stdin or a hidden prompt, never
//! from arguments. On AWS it goes into its SSM SecureString parameter (Terraform only names
//! these parameters, so their values never reach Terraform state); on the local store it is
//! encrypted under the master key as seeds are. Either way it is audited, and `otpbot serve`
//! reads it from there when its variable is not set.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{operator_request, App};
use crate::config::{Backend, Settings};
use crate::domain::{Action, Outcome};
use crate::engine::Draft;

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
    fn description(self) -> &'static str {
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
pub async fn set(settings: Settings, args: SecretArgs) -> anyhow::Result<()> {
    if args.name == SecretName::AuditKey && settings.backend == Backend::Local {
        bail!(
            "on the local store the audit key is the file audit.key in the key directory \
             (OTPBOT_KEY_DIR), made on first run and never replaced over existing data; \
             `otpbot secret set audit-key` is for the AWS backend"
        );
    }
    let value = match (args.name, args.generate) {
        (SecretName::AuditKey, true) => {
            Zeroizing::new(hex::encode(crate::keys::random_key().expose_secret()))
        }
        (_, true) => {
            bail!("--generate is only for the audit key; other secrets come from Slack or Azure")
        }
        (name, false) => read_value(name.description())?,
    };
    check_value(args.name, &value)?;
    match settings.backend {
        Backend::Local => set_local(settings, args.name, &value).await,
        Backend::Aws => set_aws(settings, args.name, &value).await,
    }
}

/// Refuses a value that cannot be the secret named, without echoing it.
fn check_value(name: SecretName, value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("empty value: nothing was written");
    }
    match name {
        SecretName::AuditKey => {
            crate::keys::decode_hex_key(value, "the audit key")?;
        }
        SecretName::SlackBotToken if !value.starts_with("xoxb-") => bail!(
            "that is not a Slack bot token (they start with xoxb-; Slack shows it under OAuth & \
             Permissions): nothing was written"
        ),
        _ => {}
    }
    Ok(())
}

/// Stores the secret in the local store with its audit record, in one transaction.
async fn set_local(mut settings: Settings, name: SecretName, value: &str) -> anyhow::Result<()> {
    #[cfg(not(feature = "local"))]
    {
        let _ = (&mut settings, name, value);
        Err(super::no_local_store())
    }
    #[cfg(feature = "local")]
    {
        let policy = settings.policy();
        let app = App::open(&mut settings, policy, super::Patience::Operator).await?;
        let store = app.local.as_ref().context("the local store is not open")?;
        let draft = Draft::new(Action::SecretSet, Outcome::Ok).detail(format!(
            "stored secret {} in the local store",
            name.as_str()
        ));
        let record = app
            .engine
            .event(&operator_request(), draft, app.engine.clock().now());
        store
            .put_secret(name.as_str(), value, &record)
            .await
            .context("cannot store the secret, which is unchanged")?;
        say!(
            "Stored the {} in {}, encrypted under the master key; `otpbot serve` reads it from \
             there unless its variable is set.",
            name.description().trim_start_matches("otpbot "),
            store.path().display()
        );
        Ok(())
    }
}

/// Writes the secret into its SSM parameter, after its audit record.
async fn set_aws(mut settings: Settings, name: SecretName, value: &str) -> anyhow::Result<()> {
    let parameter = name.parameter(&settings);
    let description = name.description();
    // The audit key itself is set here, so the engine is opened with it to record the change.
    if name == SecretName::AuditKey && settings.audit_key.is_none() {
        settings.audit_key = Some(crate::keys::decode_hex_key(value, "the audit key")?);
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
        .put_secret_parameter(&parameter, value, description)
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
    pub(super) async fn required_secret(
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

fn read_value(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let raw = super::read_secret(&format!("{what} (hidden): "), 16 * 1024)?;
    Ok(Zeroizing::new(raw.trim().to_owned()))
}
