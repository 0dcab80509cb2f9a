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

use aws_sdk_dynamodb::types::Select;
use aws_sdk_s3::Client as S3;

use super::access::is_conditional_failure;
use super::audit::event_from;
use super::item::{get_s, opt_s, s, Item, ItemBuilder};
use super::locked::put;
use super::schema::{AUDIT_PK, AUDIT_SK, AUDIT_STREAM, SEAL_STREAM};
use super::{sdk, AwsStore};
use crate::audit::checkpoint::{Checkpoint, Signer};
use crate::audit::jsonl::jsonl;
use crate::audit::seal_format::{period_start, Seal};
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;
use crate::store::{StoreError, StoreResult};

/// Where and how closed audit periods are sealed.
#[derive(Clone, Debug)]
pub struct SealSettings {
    /// The Object Lock bucket; sealing is off without one.
    pub bucket: Option<String>,
    /// Key prefix in the bucket, e.g. `audit/`.
    pub prefix: String,
    /// Length of a period in seconds.
    pub period_secs: i64,
    /// How long after its end a period is sealed: longer than the function's timeout, so every
    /// record of the period has been written.
    pub grace_secs: i64,
    /// Seals written per run at most (catch-up is bounded; the next run goes on).
    pub max_per_run: usize,
}

impl Default for SealSettings {
    fn default() -> Self {
        Self {
            bucket: None,
            prefix: "audit/".into(),
            period_secs: 300,
            grace_secs: 120,
            max_per_run: 12,
        }
    }
}

fn date_path(t: Timestamp) -> String {
    t.rfc3339().get(..10).unwrap_or_default().replace('-', "/")
}

impl SealSettings {
    /// The key of a period's records (JSON Lines).
    pub fn records_key(&self, start: Timestamp) -> String {
        format!(
            "{}records/{}/{:011}.jsonl",
            self.prefix,
            date_path(start),
            start.unix()
        )
    }

    /// The key of a period's seal (JSON).
    pub fn seal_key(&self, start: Timestamp) -> String {
        format!(
            "{}seals/{}/{:011}.json",
            self.prefix,
            date_path(start),
            start.unix()
        )
    }

    /// The key of a period's checkpoint (JSON).
    pub fn checkpoint_key(&self, start: Timestamp) -> String {
        format!(
            "{}checkpoints/{}/{:011}.json",
            self.prefix,
            date_path(start),
            start.unix()
        )
    }

    pub(super) fn bucket(&self) -> StoreResult<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| StoreError::Backend("OTPBOT_AUDIT_BUCKET is not set".into()))
    }
}

pub(super) fn sort_key(t: Timestamp) -> String {
    format!("{:011}", t.unix().max(0))
}

pub(super) fn seal_from(item: &Item) -> StoreResult<Seal> {
    let value: serde_json::Value = serde_json::from_str(get_s(item, "seal")?)
        .map_err(|_| StoreError::Corrupt("a seal item is not JSON".into()))?;
    Seal::from_json(&value).map_err(|why| StoreError::Corrupt(format!("a seal item: {why}")))
}

/// How a query walks the audit table: which partition, which sort-key bounds, which way.
struct Walk {
    stream: &'static str,
    low: String,
    high: String,
    forward: bool,
    limit: Option<i32>,
}

impl AwsStore {
    /// Items of the audit table, in sort-key order, paged; strongly consistent.
    async fn walk(&self, walk: Walk) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.settings.audit_table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", AUDIT_PK)
                .expression_attribute_names("#sk", AUDIT_SK)
                .expression_attribute_values(":pk", s(walk.stream))
                .expression_attribute_values(":low", s(walk.low.clone()))
                .expression_attribute_values(":high", s(walk.high.clone()))
                .scan_index_forward(walk.forward)
                .set_limit(walk.limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("query audit table", e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() && walk.limit.is_none() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Records with `from <= at < to`, in id order.
    pub(super) async fn records_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEvent>> {
        self.walk(Walk {
            stream: AUDIT_STREAM,
            low: sort_key(from),
            high: sort_key(to),
            forward: true,
            limit: None,
        })
        .await?
        .iter()
        .map(event_from)
        .collect()
    }

    /// The oldest record at or after `from`.
    pub(super) async fn first_record_from(
        &self,
        from: Timestamp,
    ) -> StoreResult<Option<AuditEvent>> {
        let items = self
            .walk(Walk {
                stream: AUDIT_STREAM,
                low: sort_key(from),
                high: "~".into(),
                forward: true,
                limit: Some(1),
            })
            .await?;
        items.first().map(event_from).transpose()
    }

    /// Records with `from <= at < to`, counted (`Select COUNT`, paged).
    pub(super) async fn count_between(&self, from: Timestamp, to: Timestamp) -> StoreResult<usize> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.settings.audit_table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", AUDIT_PK)
                .expression_attribute_names("#sk", AUDIT_SK)
                .expression_attribute_values(":pk", s(AUDIT_STREAM))
                .expression_attribute_values(":low", s(sort_key(from)))
                .expression_attribute_values(":high", s(sort_key(to)))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("count audit records", e))?;
            count += out.count().max(0) as usize;
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(count),
            }
        }
    }

    /// Every seal recorded in the table, oldest first.
    pub(super) async fn stored_seals(&self) -> StoreResult<Vec<Seal>> {
        self.walk(Walk {
            stream: SEAL_STREAM,
            low: "0".into(),
            high: "~".into(),
            forward: true,
            limit: None,
        })
        .await?
        .iter()
        .map(seal_from)
        .collect()
    }

    /// The newest seal item in the table.
    async fn latest_seal_item(&self) -> StoreResult<Option<Item>> {
        let items = self
            .walk(Walk {
                stream: SEAL_STREAM,
                low: "0".into(),
                high: "~".into(),
                forward: false,
                limit: Some(1),
            })
            .await?;
        Ok(items.into_iter().next())
    }

    /// The newest seal recorded in the table.
    async fn latest_seal(&self) -> StoreResult<Option<Seal>> {
        self.latest_seal_item()
            .await?
            .as_ref()
            .map(seal_from)
            .transpose()
    }

    /// The checkpoint of the newest seal recorded in the table: the log's latest signed head
    /// (`None` before the first seal, or if the deployment signs none).
    pub async fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        let Some(item) = self.latest_seal_item().await? else {
            return Ok(None);
        };
        Ok(opt_s(&item, "checkpoint")
            .and_then(|text| serde_json::from_str(&text).ok())
            .and_then(|v| Checkpoint::from_json(&v)))
    }

    /// Records `seal` (with its checkpoint) in the table unless a seal of that period is there
    /// already; returns the seal that stands.
    async fn put_seal_item(
        &self,
        seal: Seal,
        checkpoint: Option<&Checkpoint>,
    ) -> StoreResult<Seal> {
        let item = ItemBuilder::default()
            .set(AUDIT_PK, s(SEAL_STREAM))
            .set(AUDIT_SK, s(sort_key(seal.start)))
            .set("seal", s(seal.to_json().to_string()))
            .opt(
                "checkpoint",
                checkpoint.map(|c| c.to_json().to_string()).as_deref(),
            )
            .build();
        let result = self
            .ddb
            .put_item()
            .table_name(&self.settings.audit_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", AUDIT_SK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(seal),
            Err(e) if is_conditional_failure(&e) => {
                // An overlapping run sealed this period first; its seal stands.
                let stored = self.stored_seals().await?;
                stored
                    .into_iter()
                    .find(|s| s.start == seal.start)
                    .ok_or_else(|| StoreError::Backend("seal vanished after a conflict".into()))
            }
            Err(e) => Err(sdk("record seal", e)),
        }
    }

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
