//! `otpbot secret set`: writes a deployment secret, read from stdin or a hidden prompt, never
//! from arguments. On AWS it goes into its SSM SecureString parameter (Terraform only names
//! these parameters, so their values never reach Terraform state); on the local store it is
//! encrypted under the master key as seeds are. Either way it is audited, and `otpbot serve`
//! reads it from there when its variable is not set.

use anyhow::{bail, Context};
use clap::Args;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::operator::operator_request;
use super::terminal::read_secret;
use crate::config::{Backend, Settings};
use crate::domain::{Action, Outcome};
use crate::engine::Draft;
use crate::startup::{App, Patience, SecretName};

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
        Err(crate::startup::no_local_store())
    }
    #[cfg(feature = "local")]
    {
        let policy = settings.policy();
        let app = App::open(&mut settings, policy, Patience::Operator).await?;
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
    let app = App::open(&mut settings, policy, Patience::Operator).await?;
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

fn read_value(what: &str) -> anyhow::Result<Zeroizing<String>> {
    let raw = read_secret(&format!("{what} (hidden): "), 16 * 1024)?;
    Ok(Zeroizing::new(raw.trim().to_owned()))
}
