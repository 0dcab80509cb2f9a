//! Property and edge tests of the two ways a limit is kept: the time log and the ring.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn limit(n: u64, w: i64) -> RateLimit {
    RateLimit {
        limit: n,
        window_secs: w,
    }
}

/// A ring as a store keeps it, in memory.
#[derive(Default)]
struct MemRing {
    head: RingHead,
    slots: HashMap<u64, i64>,
}

/// A way of keeping a limit: the time log, or the ring.
trait Keeper {
    fn try_admit(&mut self, l: RateLimit, now: i64) -> bool;
}

impl Keeper for QuotaLog {
    fn try_admit(&mut self, l: RateLimit, now: i64) -> bool {
        let now = Timestamp::from_unix(now);
        if !self.admits(l, now) {
            return false;
        }
        *self = self.admitted(l, now);
        true
    }
}

impl Keeper for MemRing {
    fn try_admit(&mut self, l: RateLimit, now: i64) -> bool {
        let now = Timestamp::from_unix(now);
        let slot = self
            .head
            .deciding_slot(l)
            .and_then(|i| self.slots.get(&i).copied());
        if !self.head.admits(l, slot, now) {
            return false;
        }
        let (head, index, value) = self.head.admit(l, now);
        self.slots.insert(index, value);
        self.head = head;
        true
    }
}

/// The largest number of `admitted` times inside any half-open window `[t, t + w)`.
fn busiest_window(admitted: &[i64], w: i64) -> usize {
    let mut sorted = admitted.to_vec();
    sorted.sort_unstable();
    (0..sorted.len())
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|t| **t < sorted[i] + w)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn run(keeper: &mut dyn Keeper, l: RateLimit, attempts: &[i64]) -> Vec<i64> {
    attempts
        .iter()
        .copied()
        .filter(|t| keeper.try_admit(l, *t))
        .collect()
}

#[test]
fn never_more_than_the_limit_in_any_window() {
    let l = limit(3, 60);
    // One attempt every 7 seconds for 10 minutes, plus bursts at window edges.
    let mut attempts: Vec<i64> = (0..600).step_by(7).collect();
    attempts.extend([59, 59, 60, 60, 119, 120, 120]);
    attempts.sort_unstable();
    let keepers: [(&str, Box<dyn Keeper>); 2] = [
        ("time log", Box::new(QuotaLog::default())),
        ("ring", Box::new(MemRing::default())),
    ];
    for (name, mut keeper) in keepers {
        let admitted = run(keeper.as_mut(), l, &attempts);
        for start in -60..600 {
            let inside = admitted
                .iter()
                .filter(|t| **t >= start && **t < start + 60)
                .count();
            assert!(
                inside <= 3,
                "{name}: window starting at {start} holds {inside}"
            );
        }
        assert!(
            admitted.len() >= 30,
            "{name}: the limit still admits: {admitted:?}"
        );
    }
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
    let mut ring = MemRing::default();
    assert!(ring.try_admit(l, 0) && ring.try_admit(l, 0));
    assert!(!ring.try_admit(l, 59), "ring, 59 s later: full");
    assert!(ring.try_admit(l, 60), "ring, a whole window later");
}

/// With times in order, the ring admits exactly what a count over every admitted time
/// admits: it is exact, not merely safe.
#[test]
fn in_order_the_ring_decides_as_the_whole_history_does() {
    let mut rng = StdRng::seed_from_u64(7);
    for n in [1u64, 2, 5, 10] {
        let l = limit(n, 30);
        let mut ring = MemRing::default();
        let mut history: Vec<i64> = Vec::new();
        let mut now = 0i64;
        for _ in 0..2_000 {
            now += rng.gen_range(0..4);
            let whole = (history.iter().filter(|t| **t > now - 30).count() as u64) < n;
            assert_eq!(ring.try_admit(l, now), whole, "limit {n} at {now}");
            if whole {
                history.push(now);
            }
        }
    }
}

/// Clock readings taken before a decision queues can reach the single writer out of order;
/// neither way of keeping a limit may then let more than `N` into any window.
#[test]
fn times_arriving_out_of_order_never_overfill_a_window() {
    let mut rng = StdRng::seed_from_u64(20);
    for round in 0..200 {
        let n = rng.gen_range(1..6u64);
        let w = rng.gen_range(1..40i64);
        let l = limit(n, w);
        // Requests read the clock in order but reach the store up to 3 s out of order.
        let mut attempts: Vec<(i64, i64)> = (0..400)
            .map(|i| {
                let read = i / 4;
                (read + rng.gen_range(0..4), read)
            })
            .collect();
        attempts.sort_unstable();
        let times: Vec<i64> = attempts.iter().map(|(_, read)| *read).collect();
        let keepers: [(&str, Box<dyn Keeper>); 2] = [
            ("time log", Box::new(QuotaLog::default())),
            ("ring", Box::new(MemRing::default())),
        ];
        for (name, mut keeper) in keepers {
            let admitted = run(keeper.as_mut(), l, &times);
            let busiest = busiest_window(&admitted, w);
            assert!(
                busiest as u64 <= n,
                "round {round}, {name}, {n}/{w}s: a window holds {busiest}"
            );
            assert!(!admitted.is_empty(), "round {round}, {name}: admits");
        }
    }
}

/// Two early times, then a later one that pushes them out of the window, then a late
/// arrival from just before it: the early times still count against the late arrival.
#[test]
fn a_late_arrival_is_judged_against_times_a_newer_one_left_behind() {
    let l = limit(2, 60);
    let keepers: [(&str, Box<dyn Keeper>); 2] = [
        ("time log", Box::new(QuotaLog::default())),
        ("ring", Box::new(MemRing::default())),
    ];
    for (name, mut keeper) in keepers {
        let admitted = run(keeper.as_mut(), l, &[100, 101, 161, 159]);
        assert_eq!(admitted, [100, 101, 161], "{name}");
    }
}

#[test]
fn a_decision_later_than_the_store_can_judge_is_refused() {
    let l = limit(5, 10);
    let log = QuotaLog::default().admitted(l, Timestamp::from_unix(1_000));
    assert!(!log.admits(l, Timestamp::from_unix(1_000 - LATE_SECS - 1)));
    assert!(log.admits(l, Timestamp::from_unix(1_000 - LATE_SECS)));
}

#[test]
fn a_time_log_keeps_no_more_than_the_limit_and_the_late_margin_need() {
    let l = limit(3, 60);
    let mut log = QuotaLog::default();
    for t in [0, 10, 20, 30, 40] {
        log = log.admitted(l, Timestamp::from_unix(t));
    }
    assert_eq!(log.times, [20, 30, 40], "the newest three");
    log = log.admitted(l, Timestamp::from_unix(40 + 60 + LATE_SECS + 1));
    assert_eq!(
        log.times,
        [40 + 60 + LATE_SECS + 1],
        "the rest can no longer matter"
    );
}

/// A ring re-laid for a new limit keeps bounding the admissions it stands for: shrinking
/// keeps the newest, growing admits the difference at once.
#[test]
fn a_changed_limit_relays_the_ring_and_stays_safe() {
    let mut ring = MemRing::default();
    let old = limit(4, 60);
    for t in [0, 1, 2, 3] {
        assert!(ring.try_admit(old, t));
    }
    let values: Vec<i64> = ring.slots.values().copied().collect();
    let smaller = limit(2, 60);
    let (head, slots) = RingHead::relaid(&values, smaller);
    assert_eq!((head.admitted, slots.clone()), (2, vec![2, 3]));
    let mut relaid = MemRing {
        head,
        slots: slots
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect(),
    };
    assert!(
        !relaid.try_admit(smaller, 61),
        "2 and 3 are still in the window"
    );
    assert!(relaid.try_admit(smaller, 62));
    let larger = limit(6, 60);
    let (head, slots) = RingHead::relaid(&values, larger);
    let mut grown = MemRing {
        head,
        slots: slots
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect(),
    };
    assert!(grown.try_admit(larger, 4) && grown.try_admit(larger, 5));
    assert!(!grown.try_admit(larger, 6), "six in the window");
}

#[test]
fn parses_count_per_duration() {
    assert_eq!(RateLimit::parse("10/10m"), Some(limit(10, 600)));
    assert_eq!(RateLimit::parse("0/10m"), None);
    assert_eq!(RateLimit::parse("ten"), None);
}
