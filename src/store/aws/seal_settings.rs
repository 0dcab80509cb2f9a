//! Where and how the AWS backend seals closed audit periods, and the S3 keys of a sealed
//! period's locked copies.

use crate::domain::Timestamp;
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

    /// The Object Lock bucket; an error naming its setting when there is none.
    pub(super) fn bucket(&self) -> StoreResult<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| StoreError::Backend("OTPBOT_AUDIT_BUCKET is not set".into()))
    }
}
