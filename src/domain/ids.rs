//! Identifiers for requests and audit events.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

use super::clock::Timestamp;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Identifies one chat request end to end: in the reply, the log and the audit record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id (16 hex characters).
    pub fn new() -> Self {
        Self(random_hex(8))
    }

    /// Wraps an id read back from a store.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one audit event: `{unix secs:011}-{sequence:020}-{random}`. Ids sort by event
/// time, then by a sequence that strictly increases within a process and follows the wall clock
/// across processes, so events of the same second keep their order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(String);

fn next_sequence() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

impl EventId {
    /// A fresh id for an event that happened at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(format!(
            "{:011}-{:020}-{}",
            at.unix().max(0),
            next_sequence(),
            random_hex(4)
        ))
    }

    /// Wraps an id read back from a store.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_of_one_second_sort_in_creation_order() {
        let at = Timestamp::from_unix(1_700_000_000);
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::new(at)).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids must strictly increase"
        );
        assert!(
            EventId::new(at.plus_secs(-1)) < ids[0],
            "an earlier second sorts first"
        );
    }
}
