//! Exact rate limits: never more than `limit` events in any window of `window_secs` seconds.
//!
//! A limit is kept as the log of the last `limit` admitted times of its key. A new event at
//! `now` is admitted only if the log is not full yet or its oldest entry lies a whole window
//! back (`oldest <= now - window`), so no half-open window `[t, t + window)` ever holds more
//! than `limit` events, whatever the alignment.

use super::{GrantDuration, Timestamp};

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

/// The last admitted times of one quota key, oldest first, and the version they were read at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaLog {
    /// Admitted times (Unix seconds), oldest first; at most `limit` of them.
    pub times: Vec<i64>,
    /// Bumped by every admission; a writer conditions on the version it read.
    pub version: i64,
}

impl QuotaLog {
    /// The times still inside the window that ends at `now`.
    fn live(&self, limit: RateLimit, now: Timestamp) -> impl Iterator<Item = i64> + '_ {
        let cutoff = now.unix().saturating_sub(limit.window_secs.max(1));
        self.times.iter().copied().filter(move |t| *t > cutoff)
    }

    /// Whether one more event at `now` stays within `limit`.
    pub fn admits(&self, limit: RateLimit, now: Timestamp) -> bool {
        (self.live(limit, now).count() as u64) < limit.limit
    }

    /// The log after admitting one event at `now`: expired times dropped, at most `limit` kept.
    pub fn admitted(&self, limit: RateLimit, now: Timestamp) -> QuotaLog {
        let mut times: Vec<i64> = self.live(limit, now).collect();
        times.push(now.unix());
        let keep = usize::try_from(limit.limit).unwrap_or(usize::MAX);
        if times.len() > keep {
            times.drain(..times.len() - keep);
        }
        QuotaLog {
            times,
            version: self.version + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(n: u64, w: i64) -> RateLimit {
        RateLimit {
            limit: n,
            window_secs: w,
        }
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let l = limit(3, 60);
        let mut log = QuotaLog::default();
        let mut admitted = Vec::new();
        // One attempt every 7 seconds for 10 minutes, plus bursts at window edges.
        let mut attempts: Vec<i64> = (0..600).step_by(7).collect();
        attempts.extend([59, 59, 60, 60, 119, 120, 120]);
        attempts.sort_unstable();
        for t in attempts {
            let now = Timestamp::from_unix(t);
            if log.admits(l, now) {
                log = log.admitted(l, now);
                admitted.push(t);
            }
        }
        for start in -60..600 {
            let inside = admitted
                .iter()
                .filter(|t| **t >= start && **t < start + 60)
                .count();
            assert!(inside <= 3, "window starting at {start} holds {inside}");
        }
        assert!(admitted.len() >= 30, "the limit still admits: {admitted:?}");
    }

    #[test]
    fn the_window_edge_is_exact() {
        let l = limit(2, 60);
        let log = QuotaLog::default()
            .admitted(l, Timestamp::from_unix(0))
            .admitted(l, Timestamp::from_unix(0));
        assert!(!log.admits(l, Timestamp::from_unix(59)), "59 s later: full");
        assert!(
            log.admits(l, Timestamp::from_unix(60)),
            "a whole window later"
        );
        assert_eq!(log.version, 2);
    }

    #[test]
    fn parses_count_per_duration() {
        assert_eq!(RateLimit::parse("10/10m"), Some(limit(10, 600)));
        assert_eq!(RateLimit::parse("0/10m"), None);
        assert_eq!(RateLimit::parse("ten"), None);
    }
}
