//! `otpbot audit verify`: proves the audit log complete and unaltered, or names the first
//! discrepancy. Opens the store read-only and never writes, not even its own audit record.

use anyhow::{bail, Context};
use clap::Args;

use crate::config::{Backend, Settings};
use crate::domain::{Clock, SystemClock};
use crate::keys::{decode_hex_key, AuditKey};
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
pub async fn run(mut settings: Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|s| super::audit::parse_when(s, SystemClock.now(), "--since"))
        .transpose()?;
    match settings.backend {
        Backend::Local => {
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
        Backend::Aws => {
            bail!("audit verify on the AWS backend (sealed periods) is not available yet")
        }
    }
}
