//! `otpbot audit verify`: proves the audit log complete and unaltered, and that it extends
//! every checkpoint given, or names the first discrepancy. On a store it opens it read-only and
//! never writes, not even its own audit record; with `--export` it needs no store and no audit
//! key, only the public key of the checkpoints.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;

use super::when::parse_when;
use crate::audit::checkpoint::{self, parse_checkpoints, Checkpoint, Heads, PublicKey};
use crate::audit::discrepancy::Discrepancy;
use crate::audit::seal_check::{verify_seals, Against};
use crate::audit::verified::Verified;
use crate::config::{Backend, Settings};
use crate::domain::{Clock, SystemClock, Timestamp};
#[cfg(feature = "local")]
use crate::keys::decode_hex_key;
use crate::keys::AuditKey;
use crate::startup::{aws_audit_key, aws_config, Patience};
use crate::store::aws::AwsStore;
#[cfg(feature = "local")]
use crate::store::local::{verify_file, VerifyError};

/// `otpbot audit verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check only records since: a duration back from now (7d) or a date/time. The record
    /// just before is trusted as the starting point.
    #[arg(long, conflicts_with_all = ["checkpoint", "export"])]
    pub since: Option<String>,
    /// A checkpoint the log must extend: a file `otpbot audit checkpoint` printed, a
    /// checkpoint object of the AWS bucket, or log lines holding checkpoints. Repeatable.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub checkpoint: Vec<PathBuf>,
    /// The public key (PEM, as `otpbot audit public-key` prints it) that checks the
    /// checkpoints' signatures [default: the local checkpoint key; on AWS the KMS key's].
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Check an exported log (`otpbot audit --format jsonl`, or the AWS bucket's records
    /// objects) instead of the store, with no store and no audit key.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub export: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// The checkpoints in `paths`, each labelled with its file.
fn read_checkpoints(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Checkpoint)>> {
    let mut all = Vec::new();
    for path in paths {
        let label = path.display().to_string();
        let found = parse_checkpoints(&read(path, "checkpoint file")?)
            .map_err(|why| anyhow!("{label} {why}"))?;
        all.extend(found.into_iter().map(|c| (label.clone(), c)));
    }
    Ok(all)
}

fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    PublicKey::from_pem(&read(path, "public key")?)
        .map_err(|why| anyhow!("{}: {why}", path.display()))
}

/// Runs `otpbot audit verify`: prints `ok: …` or fails with the first discrepancy.
pub async fn run(settings: Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let checkpoints = read_checkpoints(&args.checkpoint)?;
    let given_key = args
        .public_key
        .as_deref()
        .map(read_public_key)
        .transpose()?;
    if let Some(export) = &args.export {
        let text = read(export, "export")?;
        let result =
            crate::audit::export_check::verify_export(&text, &checkpoint::wanted(&checkpoints));
        return report(result, &checkpoints, given_key.as_ref(), true);
    }
    let since = args
        .since
        .as_deref()
        .map(|s| parse_when(s, SystemClock.now(), "--since"))
        .transpose()?;
    match settings.backend {
        #[cfg(not(feature = "local"))]
        Backend::Local => Err(crate::startup::no_local_store()),
        #[cfg(feature = "local")]
        Backend::Local => verify_local(settings, since, &checkpoints, given_key),
        Backend::Aws => verify_aws(settings, since, &checkpoints, given_key).await,
    }
}

/// Compares the checked log with the checkpoints and prints the outcome.
fn report(
    result: Result<(Verified, Heads), Discrepancy>,
    checkpoints: &[(String, Checkpoint)],
    key: Option<&PublicKey>,
    export: bool,
) -> anyhow::Result<()> {
    let failed = |d: Discrepancy| {
        let hint = match (&d, export) {
            (Discrepancy::RecordMissing { .. }, true) => {
                " (an export checked against checkpoints must hold the whole log: \
                 `otpbot audit --format jsonl` with no filter)"
            }
            _ => "",
        };
        anyhow!("audit log check failed: {d}{hint}")
    };
    let (mut verified, heads) = result.map_err(failed)?;
    if !checkpoints.is_empty() {
        let key = key.context(
            "--checkpoint needs the public key that signed them: give --public-key FILE",
        )?;
        verified.checkpoints = checkpoint::check(checkpoints, key, &heads).map_err(failed)?;
    }
    say!("{verified}");
    if export && checkpoints.is_empty() {
        say!(
            "note: no checkpoint given, so nothing vouches for these records: anyone can \
             recompute an export's hashes; give the checkpoints otpbot published with \
             --checkpoint"
        );
    }
    Ok(())
}

/// Checks the local store's chains.
#[cfg(feature = "local")]
fn verify_local(
    mut settings: Settings,
    since: Option<Timestamp>,
    checkpoints: &[(String, Checkpoint)],
    given_key: Option<PublicKey>,
) -> anyhow::Result<()> {
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
    let public = match given_key {
        Some(key) => Some(key),
        None => crate::startup::checkpoints::existing_local_public_key(&settings)?,
    };
    let wanted = checkpoint::wanted(checkpoints);
    let result = match verify_file(&settings.data_dir, &key, since, &wanted) {
        Ok(checked) => Ok(checked),
        Err(VerifyError::Discrepancy(d)) => Err(d),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot check the audit log in {}",
                    settings.data_dir.display()
                )
            })
        }
    };
    report(result, checkpoints, public.as_ref(), false)
}

/// Checks the sealed periods: seals against each other, their locked copies and checkpoints in
/// S3, and the table's records against the locked copies. Needs read access only.
async fn verify_aws(
    mut settings: Settings,
    since: Option<Timestamp>,
    checkpoints: &[(String, Checkpoint)],
    given_key: Option<PublicKey>,
) -> anyhow::Result<()> {
    let config = aws_config(Patience::Operator).await?;
    let store = AwsStore::new(&config, settings.aws.clone());
    let key = AuditKey::new(aws_audit_key(&store, &mut settings).await?);
    let public = match (given_key, &settings.checkpoint_kms_key) {
        (Some(key), _) => Some(key),
        (None, Some(kms_key)) => {
            let kms = aws_sdk_kms::Client::new(&config);
            let key = crate::store::aws::kms::public_key(&kms, kms_key)
                .await
                .context("cannot read the checkpoint key's public half; give --public-key FILE")?;
            Some(key)
        }
        (None, None) => None,
    };
    let s3 = aws_sdk_s3::Client::new(&config);
    let (anchor, periods, outside) = store
        .sealed_periods(&s3, &settings.seal, since, SystemClock.now())
        .await
        .context("cannot read the sealed audit periods")?;
    let wanted = checkpoint::wanted(checkpoints);
    let against = Against {
        key: &key,
        public_key: public.as_ref(),
        anchor: anchor.as_ref(),
        wanted: &wanted,
    };
    let result = verify_seals(&against, &periods, &outside);
    report(result, checkpoints, public.as_ref(), false)?;
    if public.is_none() {
        say!(
            "note: the seals' checkpoints were not checked: no public key (set \
             OTPBOT_CHECKPOINT_KMS_KEY or give --public-key FILE)"
        );
    }
    Ok(())
}
