//! Sealing closed audit periods into S3 Object Lock storage (see [`crate::audit::seal_format`] for
//! what a seal is), each with a checkpoint signed by the deployment's KMS key.
//!
//! Sealing is idempotent and safe when two scheduled runs overlap: both compute the same seal
//! from the same closed period, an S3 object written twice with the same content only adds an
//! identical version, and the seal item is a conditional put (`attribute_not_exists`), so the
//! first run's seal stands and the second continues after it. The checkpoints of two such runs
//! differ (their signatures do), so a checkpoint is an object of its own: both vouch for the
//! same seal, and the first version is the one kept. The records are read with `Query` on the
//! audit table's key (ids begin with the event time), never with `Scan`.

use aws_sdk_s3::Client as S3;

use super::handle::AwsStore;
use super::object_lock::put;
use super::seal_settings::SealSettings;
use crate::audit::checkpoint::{Checkpoint, Signer};
use crate::audit::jsonl::jsonl;
use crate::audit::seal_format::{period_start, Seal};
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;
use crate::store::{StoreError, StoreResult};

impl AwsStore {
    /// Seals the closed periods not sealed yet, oldest first, at most `max_per_run` of them,
    /// each with a checkpoint signed by `signer` when there is one; returns the seals written
    /// and their checkpoints. A period is closed once `grace_secs` have passed since its end.
    pub async fn seal_closed_periods(
        &self,
        s3: &S3,
        key: &AuditKey,
        settings: &SealSettings,
        now: Timestamp,
        signer: Option<&dyn Signer>,
    ) -> StoreResult<Vec<(Seal, Option<Checkpoint>)>> {
        settings.bucket()?;
        let horizon = now.plus_secs(-settings.grace_secs);
        let mut previous = self.latest_seal().await?;
        let mut written = Vec::new();
        while written.len() < settings.max_per_run {
            let from = previous.as_ref().map_or(Timestamp::from_unix(0), |p| p.end);
            let Some(next) = self.first_record_from(from).await? else {
                break;
            };
            let end = period_start(next.at, settings.period_secs).plus_secs(settings.period_secs);
            if end > horizon {
                break;
            }
            let start = match &previous {
                Some(p) => p.end,
                None => period_start(next.at, settings.period_secs),
            };
            let records = self.records_between(start, end).await?;
            let seal = Seal::new(key, start, end, &records, previous.as_ref());
            let checkpoint = match signer {
                Some(signer) => Some(sign(&seal, now, signer).await?),
                None => None,
            };
            lock(s3, settings, &records, &seal, checkpoint.as_ref()).await?;
            let seal = self.put_seal_item(seal, checkpoint.as_ref()).await?;
            written.push((seal.clone(), checkpoint));
            previous = Some(seal);
        }
        Ok(written)
    }
}

/// The checkpoint of the log at `seal`, signed as of `now`.
async fn sign(seal: &Seal, now: Timestamp, signer: &dyn Signer) -> StoreResult<Checkpoint> {
    Checkpoint::sign(&seal.head(), now, signer)
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Writes a sealed period's locked copies: its records, its seal and its checkpoint.
async fn lock(
    s3: &S3,
    settings: &SealSettings,
    records: &[AuditEvent],
    seal: &Seal,
    checkpoint: Option<&Checkpoint>,
) -> StoreResult<()> {
    let bucket = settings.bucket()?;
    let key = settings.records_key(seal.start);
    put(s3, bucket, &key, jsonl(records), "application/x-ndjson").await?;
    let text = seal.to_json().to_string();
    put(
        s3,
        bucket,
        &settings.seal_key(seal.start),
        text,
        "application/json",
    )
    .await?;
    if let Some(checkpoint) = checkpoint {
        let text = checkpoint.to_json().to_string();
        let key = settings.checkpoint_key(seal.start);
        put(s3, bucket, &key, text, "application/json").await?;
    }
    Ok(())
}
