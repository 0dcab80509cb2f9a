//! Reading the sealed periods back for `otpbot audit verify`: the locked seals, copies and
//! checkpoints in S3 (each object's first version), the table's seals and records, and what
//! lies outside the seals. Read-only.

use aws_sdk_s3::Client as S3;

use super::handle::AwsStore;
use super::object_lock::{first_versions, get, locked_checkpoint, locked_seals};
use super::seal_settings::SealSettings;
use crate::audit::jsonl::parse_jsonl;
use crate::audit::seal_check::{Outside, Overdue, SealedPeriod};
use crate::audit::seal_format::{period_start, Seal};
use crate::domain::Timestamp;
use crate::store::StoreResult;

/// The first version of each object, by key.
type Versions = std::collections::BTreeMap<String, Option<String>>;

/// What a check compares: the seal before the first period checked (trusted as the starting
/// point), each sealed period checked, and what lies outside the seals.
pub type SealedLog = (Option<Seal>, Vec<SealedPeriod>, Outside);

impl AwsStore {
    /// What `otpbot audit verify` compares, from `since` on (the whole log without it), as of
    /// `now`.
    pub async fn sealed_periods(
        &self,
        s3: &S3,
        settings: &SealSettings,
        since: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<SealedLog> {
        let bucket = settings.bucket()?;
        let versions = first_versions(s3, bucket, &settings.prefix).await?;
        let locked =
            locked_seals(s3, bucket, &format!("{}seals/", settings.prefix), &versions).await?;
        let mut stored = self.stored_seals().await?;
        let split = since.map_or(0, |t| locked.iter().take_while(|s| s.end <= t).count());
        let anchor = split.checked_sub(1).map(|i| locked[i].clone());
        let mut periods = Vec::new();
        for seal in &locked[split..] {
            let table_copy = stored
                .iter()
                .position(|s| s.start == seal.start)
                .map(|i| stored.remove(i));
            periods.push(
                self.period(s3, settings, &versions, seal, table_copy)
                    .await?,
            );
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
        let from = since.map_or(sealed_until, |t| t.max(sealed_until));
        let unsealed = self.count_between(from, far_future()).await?;
        let overdue = self.overdue(settings, sealed_until, now).await?;
        let outside = Outside {
            unlocked_seals: stored,
            before_first,
            unsealed,
            overdue,
        };
        Ok((anchor, periods, outside))
    }

    /// One sealed period as the check compares it: `seal` with its locked copies (first
    /// versions), its copy in the table and the table's records.
    async fn period(
        &self,
        s3: &S3,
        settings: &SealSettings,
        versions: &Versions,
        seal: &Seal,
        stored: Option<Seal>,
    ) -> StoreResult<SealedPeriod> {
        let bucket = settings.bucket()?;
        let key = settings.records_key(seal.start);
        let text = match versions.get(&key) {
            Some(version) => get(s3, bucket, &key, version.as_deref()).await?,
            None => None,
        };
        let checkpoint_key = settings.checkpoint_key(seal.start);
        Ok(SealedPeriod {
            locked_records: text.as_deref().and_then(parse_jsonl),
            checkpoint: locked_checkpoint(s3, bucket, &checkpoint_key, versions).await?,
            stored,
            stored_records: self.records_between(seal.start, seal.end).await?,
            locked: seal.clone(),
        })
    }

    /// Unsealed records (after `sealed_until`) in periods that should have been sealed by
    /// `now`: a period is due by its end, plus the grace interval, plus two periods (the
    /// scheduled run after it closed, and one more in case that run failed).
    async fn overdue(
        &self,
        settings: &SealSettings,
        sealed_until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Option<Overdue>> {
        let period = settings.period_secs;
        let slack = settings.grace_secs + 2 * period;
        let cutoff = period_start(now.plus_secs(-slack), period);
        if cutoff <= sealed_until {
            return Ok(None);
        }
        let Some(oldest) = self.first_record_from(sealed_until).await? else {
            return Ok(None);
        };
        if oldest.at >= cutoff {
            return Ok(None);
        }
        let count = self.count_between(sealed_until, cutoff).await?;
        let due = period_start(oldest.at, period).plus_secs(period + slack);
        Ok(Some(Overdue {
            count,
            oldest: oldest.at,
            due,
        }))
    }
}

/// A time after every record's (the top of the sort-key range).
fn far_future() -> Timestamp {
    Timestamp::from_unix(99_999_999_999)
}

#[cfg(test)]
mod tests {
    use super::super::audit_table::sort_key;
    use super::*;

    #[test]
    fn the_far_future_sorts_after_every_event_id() {
        assert_eq!(sort_key(far_future()), "99999999999");
    }
}
