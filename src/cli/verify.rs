//! `otpbot audit verify`: proves the audit log complete and unaltered, or names the first
//! discrepancy. Opens the store read-only and never writes, not even its own audit record.

use anyhow::{bail, Context};
use clap::Args;

use crate::config::{Backend, Settings};
use crate::domain::{Clock, SystemClock};
#[cfg(feature = "local")]
use crate::keys::decode_hex_key;
use crate::keys::AuditKey;

use crate::audit::seal::verify_seals;
use crate::store::aws::AwsStore;
#[cfg(feature = "local")]
use crate::store::local::{verify_file, VerifyError};

/// `otpbot audit verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check only records since: a duration back from now (7d) or a date/time. The record
    /// just before is trusted as the starting point.
    #[arg(long)]
    pub since: Option<String>,
}

/// Runs `otpbot audit verify`: prints `ok: …` or fails with the first discrepancy.
pub async fn run(settings: Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|s| super::audit::parse_when(s, SystemClock.now(), "--since"))
        .transpose()?;
    match settings.backend {
        #[cfg(not(feature = "local"))]
        Backend::Local => Err(super::no_local_store()),
        #[cfg(feature = "local")]
        Backend::Local => {
            let mut settings = settings;
            let key = match settings.audit_key.take() {
                Some(key) => key,
                None => {
                    let path = settings.key_path("audit.key");
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the audit key {}", path.display()))?;
                    decode_hex_key(&text, &path.display().to_string())?
                }
            };
            let key = AuditKey::new(key);
            match verify_file(&settings.data_dir, &key, since) {
                Ok(verified) => {
                    say!("{verified}");
                    Ok(())
                }
                Err(VerifyError::Discrepancy(d)) => bail!("audit log check failed: {d}"),
                Err(VerifyError::Store(e)) => Err(e).with_context(|| {
                    format!(
                        "cannot read the audit log in {}",
                        settings.data_dir.display()
                    )
                }),
            }
        }
        Backend::Aws => verify_aws(settings, since).await,
    }
}

/// Checks the sealed periods: seals against each other and their locked copies in S3, and the
/// table's records against the locked copies. Needs read access only.
async fn verify_aws(
    mut settings: Settings,
    since: Option<crate::domain::Timestamp>,
) -> anyhow::Result<()> {
    let config = super::aws_config(super::Patience::Operator).await?;
    let store = AwsStore::new(&config, settings.aws.clone());
    let key = super::aws_audit_key(&store, &mut settings).await?;
    let key = AuditKey::new(key);
    let s3 = aws_sdk_s3::Client::new(&config);
    let (anchor, periods, outside) = store
        .sealed_periods(&s3, &settings.seal, since)
        .await
        .context("cannot read the sealed audit periods")?;
    match verify_seals(&key, anchor.as_ref(), &periods, &outside) {
        Ok(verified) => {
            say!("{verified}");
            Ok(())
        }
        Err(d) => bail!("audit log check failed: {d}"),
    }
}
