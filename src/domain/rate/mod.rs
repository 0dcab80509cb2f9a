//! Exact rate limits: never more than `limit` events in any window of `window_secs` seconds.
//!
//! A limit is kept as the log of the last `limit` admitted times of its key. A new event at
//! `now` is admitted only if the log is not full yet or its oldest entry lies a whole window
//! back (`oldest <= now - window`), so no half-open window `[t, t + window)` ever holds more
//! than `limit` events, whatever the alignment.

use super::clock::Timestamp;
use super::duration::GrantDuration;

/// `limit` events per `window_secs`, exact over any window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed per window.
    pub limit: u64,
    /// Window length in seconds.
    pub window_secs: i64,
}

impl RateLimit {
    /// Parses `<count>/<duration>`, e.g. `10/10m`.
    pub fn parse(text: &str) -> Option<Self> {
        let (count, window) = text.split_once('/')?;
        let limit = count.trim().parse().ok().filter(|n| *n > 0)?;
        let window = GrantDuration::parse(window)?;
        Some(Self {
            limit,
            window_secs: window.secs(),
        })
    }
}

/// One limit to take in a decision: the key it is counted under and the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// What is counted, e.g. `caller:slack:T1:U1` or `tool:slack:T1:U1:github`.
    pub key: String,
    /// The limit.
    pub limit: RateLimit,
}

/// How late a decision's one clock reading may reach the store and still be judged exactly.
/// Stores forget admitted times once they are older than the window plus this, so a decision
/// whose time lies further back than this behind what the store has already seen is refused
/// rather than judged against a history it no longer holds. A chat request is answered within
/// seconds (Slack gives up after 3 s; the Lambda and the writer time out long before this), so
/// no real request is that late.
pub const LATE_SECS: i64 = 300;

/// The last admitted times of one quota key, and the version they were read at: how a store
/// that keeps a limit's times in one record (DynamoDB) holds them.
///
/// Admission times can reach a store slightly out of order (each request reads the clock once,
/// before its decision queues behind others), so what is kept is the newest `limit` times by
/// value, not by arrival. Whether one more event at `now` is admitted depends only on how many
/// kept times lie after `now - window`; times beyond the newest `limit` never change that count
/// from "full" to "not full", and times older than the window plus [`LATE_SECS`] behind the
/// newest can only matter to a decision that late, which is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaLog {
    /// Admitted times (Unix seconds), oldest first; at most `limit` of them.
    pub times: Vec<i64>,
    /// Bumped by every admission; a writer conditions on the version it read.
    pub version: i64,
    /// For a store that keeps a ring of admissions instead of the times (see [`RingHead`]):
    /// the bound the ring holds on the `limit`-th newest admitted time, `None` while fewer than
    /// `limit` have been admitted. When set, `times` is empty.
    pub nth_newest: Option<i64>,
}

impl QuotaLog {
    /// A log known by its ring's bound on the `limit`-th newest admitted time.
    pub fn bounded(nth_newest: Option<i64>) -> Self {
        Self {
            nth_newest,
            ..Self::default()
        }
    }

    /// Whether one more event at `now` stays within `limit`.
    pub fn admits(&self, limit: RateLimit, now: Timestamp) -> bool {
        let cutoff = cutoff(limit, now);
        if let Some(bound) = self.nth_newest {
            return bound <= cutoff;
        }
        if self.too_late(now) {
            return false;
        }
        let live = self.times.iter().filter(|t| **t > cutoff).count();
        (live as u64) < limit.limit
    }

    /// Whether `now` lies more than [`LATE_SECS`] behind the newest kept time.
    fn too_late(&self, now: Timestamp) -> bool {
        self.times
            .iter()
            .max()
            .is_some_and(|newest| now.unix() < newest.saturating_sub(LATE_SECS))
    }

    /// The log after admitting one event at `now`: the newest `limit` times by value, without
    /// those that can no longer matter to a decision that is judged at all.
    pub fn admitted(&self, limit: RateLimit, now: Timestamp) -> QuotaLog {
        let mut times = self.times.clone();
        times.push(now.unix());
        times.sort_unstable();
        let keep = usize::try_from(limit.limit).unwrap_or(usize::MAX);
        if times.len() > keep {
            times.drain(..times.len() - keep);
        }
        let newest = times.last().copied().unwrap_or(i64::MIN);
        let forget = newest
            .saturating_sub(window(limit))
            .saturating_sub(LATE_SECS);
        times.retain(|t| *t > forget);
        QuotaLog {
            times,
            version: self.version + 1,
            nth_newest: None,
        }
    }
}

fn window(limit: RateLimit) -> i64 {
    limit.window_secs.max(1)
}

/// The latest time an admission may lie at and no longer count against one at `now`.
fn cutoff(limit: RateLimit, now: Timestamp) -> i64 {
    now.unix().saturating_sub(window(limit))
}

/// The head of a quota key's ring: how a store keeps a limit of `N` exactly while reading and
/// writing a bounded amount per decision, whatever `N` is (SPEC §3.7).
///
/// The ring has `N` slots, indexed by the admission counter modulo `N`. Admission number `k`
/// (counting from 0) writes slot `k mod N` with `e_k`, the newest admission time so far
/// (`max` of its own time and every earlier one), so the slot the next admission reads,
/// `admitted mod N`, holds `e` of the admission `N` back. Every time admitted after that one
/// arrived later, so at most `N - 1` admitted times exceed `e` of it: it bounds the `N`-th
/// newest admitted time from above, even when times arrive out of order. An event at `now` is
/// admitted if fewer than `N` were admitted, or that bound lies a whole window back; then at
/// most `N - 1` earlier times lie after `now - window`, so no window of that length holds more
/// than `N` events. With times in order the bound is the `N`-th newest time itself, and the
/// limit is exact; out of order it errs only towards refusing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingHead {
    /// Admissions so far.
    pub admitted: u64,
    /// The newest admission time so far (Unix seconds); meaningless while `admitted` is 0.
    pub newest: i64,
}

impl RingHead {
    /// The slot whose value decides the next admission: `None` while fewer than `limit` were
    /// admitted (the next one is admitted whatever its time).
    pub fn deciding_slot(&self, limit: RateLimit) -> Option<u64> {
        (self.admitted >= limit.limit).then(|| self.admitted % limit.limit.max(1))
    }

    /// Whether one more event at `now` is admitted, given the value of the deciding slot
    /// (`None`: no slot decides, or the slot was forgotten as too old to matter).
    pub fn admits(&self, limit: RateLimit, slot: Option<i64>, now: Timestamp) -> bool {
        QuotaLog::bounded(slot).admits(limit, now)
    }

    /// Admits one event at `now`: the new head, and the slot to write with its value.
    pub fn admit(&self, limit: RateLimit, now: Timestamp) -> (RingHead, u64, i64) {
        let newest = if self.admitted == 0 {
            now.unix()
        } else {
            self.newest.max(now.unix())
        };
        let slot = self.admitted % limit.limit.max(1);
        let head = RingHead {
            admitted: self.admitted + 1,
            newest,
        };
        (head, slot, newest)
    }

    /// A ring of `limit` slots holding what a ring of another size held: `values` are its
    /// slot values (any order). Keeps the newest `limit` of them in slots `0..`, oldest first,
    /// so each still bounds the admission it stands for.
    pub fn relaid(values: &[i64], limit: RateLimit) -> (RingHead, Vec<i64>) {
        let mut kept = values.to_vec();
        kept.sort_unstable();
        let keep = usize::try_from(limit.limit).unwrap_or(usize::MAX);
        if kept.len() > keep {
            kept.drain(..kept.len() - keep);
        }
        let head = RingHead {
            admitted: kept.len() as u64,
            newest: kept.last().copied().unwrap_or(0),
        };
        (head, kept)
    }
}

#[cfg(test)]
mod tests;
