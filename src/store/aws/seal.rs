//! Sealing closed audit periods into S3 Object Lock storage, and reading them back for
//! `otpbot audit verify` (see [`crate::audit::seal`] for what a seal is).
//!
//! Sealing is idempotent and safe when two scheduled runs overlap: both compute the same seal
//! from the same closed period, an S3 object written twice with the same content only adds an
//! identical version, and the seal item is a conditional put (`attribute_not_exists`), so the
//! first run's seal stands and the second continues after it. The records are read with `Query`
//! on the audit table's key (ids begin with the event time), never with `Scan`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::Select;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use aws_sdk_s3::Client as S3;

use super::access::is_conditional_failure;
use super::audit::event_from;
use super::item::{get_s, s, Item, ItemBuilder};
use super::schema::{AUDIT_PK, AUDIT_SK, AUDIT_STREAM, SEAL_STREAM};
use super::{sdk, AwsStore};
use crate::audit::seal::{jsonl, parse_jsonl, period_start, Outside, Seal, SealedPeriod};
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

    fn bucket(&self) -> StoreResult<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| StoreError::Backend("OTPBOT_AUDIT_BUCKET is not set".into()))
    }
}

fn sort_key(t: Timestamp) -> String {
    format!("{:011}", t.unix().max(0))
}

fn seal_from(item: &Item) -> StoreResult<Seal> {
    serde_json::from_str(get_s(item, "seal")?)
        .ok()
        .and_then(|v| Seal::from_json(&v))
        .ok_or_else(|| StoreError::Corrupt("unreadable seal item".into()))
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
    async fn records_between(
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
    async fn first_record_from(&self, from: Timestamp) -> StoreResult<Option<AuditEvent>> {
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

    /// Records at or after `from`, counted (`Select COUNT`, paged).
    async fn count_from(&self, from: Timestamp) -> StoreResult<usize> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.settings.audit_table)
                .key_condition_expression("#pk = :pk AND #sk >= :low")
                .expression_attribute_names("#pk", AUDIT_PK)
                .expression_attribute_names("#sk", AUDIT_SK)
                .expression_attribute_values(":pk", s(AUDIT_STREAM))
                .expression_attribute_values(":low", s(sort_key(from)))
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
    async fn stored_seals(&self) -> StoreResult<Vec<Seal>> {
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

    /// The newest seal recorded in the table.
    async fn latest_seal(&self) -> StoreResult<Option<Seal>> {
        let items = self
            .walk(Walk {
                stream: SEAL_STREAM,
                low: "0".into(),
                high: "~".into(),
                forward: false,
                limit: Some(1),
            })
            .await?;
        items.first().map(seal_from).transpose()
    }

    /// Records `seal` in the table unless a seal of that period is there already; returns
    /// the seal that stands.
    async fn put_seal_item(&self, seal: Seal) -> StoreResult<Seal> {
        let item = ItemBuilder::default()
            .set(AUDIT_PK, s(SEAL_STREAM))
            .set(AUDIT_SK, s(sort_key(seal.start)))
            .set("seal", s(seal.to_json().to_string()))
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

    /// Seals the closed periods not sealed yet, oldest first, at most `max_per_run` of them;
    /// returns the seals written. A period is closed once `grace_secs` have passed since its end.
    pub async fn seal_closed_periods(
        &self,
        s3: &S3,
        key: &AuditKey,
        settings: &SealSettings,
        now: Timestamp,
    ) -> StoreResult<Vec<Seal>> {
        let bucket = settings.bucket()?;
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
            put(
                s3,
                bucket,
                &settings.records_key(start),
                jsonl(&records),
                "application/x-ndjson",
            )
            .await?;
            put(
                s3,
                bucket,
                &settings.seal_key(start),
                seal.to_json().to_string(),
                "application/json",
            )
            .await?;
            let seal = self.put_seal_item(seal).await?;
            written.push(seal.clone());
            previous = Some(seal);
        }
        Ok(written)
    }

    /// What `otpbot audit verify` compares: the seal before `since` (trusted as the starting
    /// point), each sealed period from `since` on with its locked copies (each object's first
    /// version) and the table's records, and what lies outside the seals. Read-only.
    pub async fn sealed_periods(
        &self,
        s3: &S3,
        settings: &SealSettings,
        since: Option<Timestamp>,
    ) -> StoreResult<(Option<Seal>, Vec<SealedPeriod>, Outside)> {
        let bucket = settings.bucket()?;
        let versions = first_versions(s3, bucket, &settings.prefix).await?;
        let locked =
            locked_seals(s3, bucket, &format!("{}seals/", settings.prefix), &versions).await?;
        let mut stored = self.stored_seals().await?;
        let split = since.map_or(0, |t| locked.iter().take_while(|s| s.end <= t).count());
        let anchor = split.checked_sub(1).map(|i| locked[i].clone());
        let mut periods = Vec::new();
        for seal in &locked[split..] {
            let key = settings.records_key(seal.start);
            let text = match versions.get(&key) {
                Some(version) => get(s3, bucket, &key, version.as_deref()).await?,
                None => None,
            };
            periods.push(SealedPeriod {
                locked_records: text.as_deref().and_then(parse_jsonl),
                stored: stored
                    .iter()
                    .position(|s| s.start == seal.start)
                    .map(|i| stored.remove(i)),
                stored_records: self.records_between(seal.start, seal.end).await?,
                locked: seal.clone(),
            });
        }
        stored.retain(|s| since.is_none_or(|t| s.end > t));
        let before_first = match (locked.first(), since) {
            (Some(first), None) => {
                self.records_between(Timestamp::from_unix(0), first.start)
                    .await?
            }
            _ => Vec::new(),
        };
        let sealed_until = locked.last().map_or(Timestamp::from_unix(0), |s| s.end);
        let unsealed = self
            .count_from(since.map_or(sealed_until, |t| t.max(sealed_until)))
            .await?;
        Ok((
            anchor,
            periods,
            Outside {
                unlocked_seals: stored,
                before_first,
                unsealed,
            },
        ))
    }
}

/// Writes one object with a SHA-256 checksum, which S3 requires of writes to an Object Lock
/// bucket (a Content-MD5 or an `x-amz-checksum-*`:
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html>). The
/// bucket's default encryption (SSE-KMS) and retention apply.
async fn put(
    s3: &S3,
    bucket: &str,
    key: &str,
    body: String,
    content_type: &str,
) -> StoreResult<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map_err(|e| sdk("write sealed copy", e))?;
    Ok(())
}

/// Reads one object (the given version, else the current one) as text; `None` if it does not
/// exist.
async fn get(
    s3: &S3,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> StoreResult<Option<String>> {
    let request = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned));
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(sdk("read sealed copy", e)),
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| StoreError::Backend(format!("read sealed copy {key}: {e}")))?
        .into_bytes();
    Ok(String::from_utf8(bytes.to_vec()).ok())
}

/// The first version of every object under `prefix`, by key (sorted, so seals come oldest
/// period first). The first write of a key is the one Object Lock keeps: a later `PutObject`
/// only adds a newer version on top, which the check ignores. S3 lists each key's versions
/// newest first (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html>),
/// so the last one listed is the first written.
async fn first_versions(
    s3: &S3,
    bucket: &str,
    prefix: &str,
) -> StoreResult<BTreeMap<String, Option<String>>> {
    let mut first = BTreeMap::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| sdk("list sealed copies", e))?;
        for version in out.versions() {
            if let Some(key) = version.key() {
                first.insert(key.to_owned(), version.version_id().map(str::to_owned));
            }
        }
        if out.is_truncated() != Some(true) {
            return Ok(first);
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        version_marker = out.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Ok(first);
        }
    }
}

/// Every locked seal (first versions), oldest period first.
async fn locked_seals(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    versions: &BTreeMap<String, Option<String>>,
) -> StoreResult<Vec<Seal>> {
    let mut seals = Vec::new();
    for (key, version) in versions.range(prefix.to_owned()..) {
        if !key.starts_with(prefix) {
            break;
        }
        let seal = get(s3, bucket, key, version.as_deref())
            .await?
            .and_then(|t| serde_json::from_str(&t).ok())
            .and_then(|v| Seal::from_json(&v))
            .ok_or_else(|| StoreError::Corrupt(format!("locked seal {key} is unreadable")))?;
        seals.push(seal);
    }
    Ok(seals)
}
