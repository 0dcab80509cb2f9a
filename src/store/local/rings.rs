//! Rate-limit rings in SQLite, written only inside the writer's transaction.
//!
//! A limit of `N` per window is kept per quota key as a ring of `N` slots (see
//! [`RingHead`]): `quota_rings` holds the admission counter and the newest admission time,
//! `quota_slots` one row per slot. A decision reads one ring row and one slot (one statement)
//! and writes one of each, whatever `N` is. Rings idle for a whole window plus [`LATE_SECS`]
//! are swept (see [`super::counters::prune`]); `quota_floor` remembers how far back that sweep
//! has forgotten, and a decision timed before the floor is refused rather than judged against a
//! history no longer held.

use rusqlite::{params, Connection};

use super::sql::backend;
use crate::domain::{Quota, QuotaLog, RateLimit, RingHead, Timestamp, LATE_SECS};
use crate::store::StoreResult;

/// What one statement reads of a quota key's ring.
struct Ring {
    /// Decisions timed before this are refused.
    floor: i64,
    /// The ring's head and size, if it has admitted anything (and was not swept).
    head: Option<(RingHead, u64)>,
    /// The value of the slot the next admission reads, if the ring is full and has it.
    deciding: Option<i64>,
}

/// The floor, a key's ring head and its deciding slot, in one statement.
const RING_SQL: &str = "SELECT f.floor, r.size, r.admitted, r.newest, s.at
     FROM quota_floor AS f
     LEFT JOIN quota_rings AS r ON r.key = ?1
     LEFT JOIN quota_slots AS s
         ON s.key = ?1 AND r.admitted >= r.size AND s.slot = r.admitted % r.size";

fn ring(conn: &Connection, key: &str) -> StoreResult<Ring> {
    let mut stmt = conn.prepare_cached(RING_SQL).map_err(backend)?;
    stmt.query_row([key], |row| {
        let size: Option<i64> = row.get(1)?;
        let head = match size {
            Some(size) => Some((
                RingHead {
                    admitted: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    newest: row.get(3)?,
                },
                u64::try_from(size).unwrap_or(0),
            )),
            None => None,
        };
        Ok(Ring {
            floor: row.get(0)?,
            head,
            deciding: row.get(4)?,
        })
    })
    .map_err(backend)
}

/// What the pre-check of `quota` needs: the ring's bound on its `N`-th newest admission.
/// A ring laid for another limit (the setting changed) is re-laid by the next decision, which
/// judges exactly; until then the pre-check lets the decision decide.
pub(super) fn quota_log(conn: &Connection, quota: &Quota) -> StoreResult<QuotaLog> {
    let ring = ring(conn, &quota.key)?;
    let bound = match ring.head {
        Some((_, size)) if size == quota.limit.limit => ring.deciding,
        _ => None,
    };
    Ok(QuotaLog::bounded(bound))
}

/// Takes one unit of `quota` at `now`; `false` (and nothing written) if it is full, or if
/// `now` lies before what the sweep has forgotten. Exact, because only the writer thread runs
/// this, inside its transaction. Not inlined, so a profile can tell its cost from its caller's.
#[inline(never)]
pub(super) fn take(conn: &Connection, quota: &Quota, now: Timestamp) -> StoreResult<bool> {
    let limit = quota.limit;
    let mut ring = ring(conn, &quota.key)?;
    if now.unix() < ring.floor {
        return Ok(false);
    }
    if ring.head.is_some_and(|(_, size)| size != limit.limit) {
        let (relaid, deciding) = relay(conn, &quota.key, limit)?;
        ring.head = Some((relaid, limit.limit));
        ring.deciding = deciding;
    }
    let head = ring.head.map(|(head, _)| head).unwrap_or_default();
    if !head.admits(limit, ring.deciding, now) {
        return Ok(false);
    }
    let (next, slot, value) = head.admit(limit, now);
    conn.prepare_cached("INSERT OR REPLACE INTO quota_slots (key, slot, at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![quota.key, to_sql(slot), value]))
        .map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO quota_rings (key, size, admitted, newest, keep_until)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO UPDATE SET size = excluded.size, admitted = excluded.admitted,
             newest = excluded.newest, keep_until = excluded.keep_until",
    )
    .and_then(|mut s| {
        s.execute(params![
            quota.key,
            to_sql(limit.limit),
            to_sql(next.admitted),
            next.newest,
            keep_until(limit, next.newest)
        ])
    })
    .map_err(backend)?;
    Ok(true)
}

fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// When a ring whose newest admission is `newest` can no longer matter to a judged decision.
fn keep_until(limit: RateLimit, newest: i64) -> i64 {
    newest
        .saturating_add(limit.window_secs.max(1))
        .saturating_add(LATE_SECS)
}

/// Re-lays the ring of `key` for `limit` after the setting changed (reads and rewrites the
/// old ring once); returns the new head and the value of its deciding slot.
fn relay(conn: &Connection, key: &str, limit: RateLimit) -> StoreResult<(RingHead, Option<i64>)> {
    let values = conn
        .prepare_cached("SELECT at FROM quota_slots WHERE key = ?1")
        .and_then(|mut s| {
            s.query_map([key], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    let (head, slots) = RingHead::relaid(&values, limit);
    conn.prepare_cached("DELETE FROM quota_slots WHERE key = ?1")
        .and_then(|mut s| s.execute([key]))
        .map_err(backend)?;
    for (slot, at) in slots.iter().enumerate() {
        conn.prepare_cached("INSERT INTO quota_slots (key, slot, at) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![key, slot as i64, at]))
            .map_err(backend)?;
    }
    conn.prepare_cached(
        "UPDATE quota_rings SET size = ?2, admitted = ?3, newest = ?4, keep_until = ?5
         WHERE key = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            to_sql(limit.limit),
            to_sql(head.admitted),
            head.newest,
            keep_until(limit, head.newest)
        ])
    })
    .map_err(backend)?;
    let deciding = match head.deciding_slot(limit) {
        Some(slot) => usize::try_from(slot)
            .ok()
            .and_then(|i| slots.get(i).copied()),
        None => None,
    };
    Ok((head, deciding))
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::super::counters::prune;
    use super::super::schema::{migrate, migrate_to};
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate(&mut conn).expect("schema");
        conn
    }

    fn quota(limit: u64, window_secs: i64) -> Quota {
        Quota {
            key: "tool:slack:T1:U1:github".into(),
            limit: RateLimit { limit, window_secs },
        }
    }

    fn at(t: i64) -> Timestamp {
        Timestamp::from_unix(t)
    }

    fn slots(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM quota_slots", [], |r| r.get(0))
            .expect("count")
    }

    /// SPEC §3.7: a limit of 1,000,000 costs a decision no more than one of 10.
    #[test]
    fn a_decision_reads_and_writes_a_bounded_amount_whatever_the_limit() {
        let conn = db();
        let big = quota(1_000_000, 60);
        let cost = |n: usize| {
            let mut steps = Vec::new();
            for i in 0..n {
                conn.prepare_cached(RING_SQL)
                    .expect("cached")
                    .reset_status(StatementStatus::VmStep);
                let changes = conn.total_changes();
                assert!(take(&conn, &big, at(1_000 + (i as i64) / 500)).expect("take"));
                let step = conn
                    .prepare_cached(RING_SQL)
                    .expect("cached")
                    .get_status(StatementStatus::VmStep);
                steps.push((step, conn.total_changes() - changes));
            }
            steps
        };
        let early = cost(10);
        let late = cost(20_000);
        let last = late.last().copied().expect("steps");
        assert_eq!(last.1, 2, "one ring row and one slot written");
        assert!(
            last.0 <= early[5].0,
            "the 20,010th decision read no more than the 6th: {last:?} vs {:?}",
            early[5]
        );
    }

    #[test]
    fn the_ring_admits_exactly_the_limit_in_a_window() {
        let conn = db();
        let q = quota(3, 60);
        let verdicts: Vec<bool> = [0, 0, 30, 59, 60, 60, 89, 90]
            .into_iter()
            .map(|t| take(&conn, &q, at(t)).expect("take"))
            .collect();
        assert_eq!(verdicts, [true, true, true, false, true, true, false, true]);
        assert_eq!(slots(&conn), 3, "a ring of 3 slots");
        let view = quota_log(&conn, &q).expect("view");
        assert!(!view.admits(q.limit, at(119)) && view.admits(q.limit, at(120)));
    }

    /// Decisions reach the writer in another order than their clock readings: the late one
    /// still counts the admissions a newer one pushed out of its own window.
    #[test]
    fn a_late_decision_never_overfills_a_window() {
        let conn = db();
        let q = quota(2, 60);
        let verdicts: Vec<bool> = [100, 101, 161, 159]
            .into_iter()
            .map(|t| take(&conn, &q, at(t)).expect("take"))
            .collect();
        assert_eq!(
            verdicts,
            [true, true, true, false],
            "[100, 160) would hold 100, 101 and 159"
        );
    }

    /// The limit setting changed between two decisions of one key.
    #[test]
    fn a_changed_limit_relays_the_ring_and_stays_exact() {
        let conn = db();
        for t in 0..5 {
            assert!(take(&conn, &quota(5, 60), at(t)).expect("take"));
        }
        let smaller = quota(3, 60);
        assert!(
            quota_log(&conn, &smaller)
                .expect("view")
                .admits(smaller.limit, at(10)),
            "the pre-check leaves a re-lay to the decision"
        );
        assert!(!take(&conn, &smaller, at(61)).expect("take"), "2, 3, 4 in");
        assert_eq!(slots(&conn), 3, "re-laid to three slots");
        assert!(take(&conn, &smaller, at(62)).expect("take"), "2 left");
        assert!(!take(&conn, &smaller, at(62)).expect("take"), "3, 4, 62 in");
    }

    #[test]
    fn a_decision_older_than_the_swept_history_is_refused() {
        let conn = db();
        let q = quota(2, 60);
        assert!(take(&conn, &q, at(10_000)).expect("take"));
        prune(&conn, at(10_000 + 60 + LATE_SECS)).expect("prune");
        assert_eq!(slots(&conn), 0, "the idle ring was swept");
        let floor = 10_000 + 60;
        assert!(
            !take(&conn, &q, at(floor - 1)).expect("take"),
            "a decision timed before the floor could have met the swept admission"
        );
        assert!(take(&conn, &q, at(floor)).expect("take"));
    }

    #[test]
    fn a_sweep_keeps_what_a_late_decision_still_needs() {
        let conn = db();
        let q = quota(1, 60);
        assert!(take(&conn, &q, at(10_000)).expect("take"));
        prune(&conn, at(10_000 + 60 + LATE_SECS - 1)).expect("prune");
        assert_eq!(slots(&conn), 1, "kept");
        assert!(
            !take(&conn, &q, at(10_059)).expect("take"),
            "a late decision still meets it"
        );
    }

    /// Admissions kept by a store from before the rings still count after the upgrade.
    #[test]
    fn admitted_times_survive_the_move_to_rings() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate_to(&mut conn, 5).expect("old schema");
        for at in [1_000, 1_010, 1_020] {
            conn.execute(
                "INSERT INTO quota_events (key, at, keep_until) VALUES ('tool:k', ?1, ?1 + 60)",
                [at],
            )
            .expect("old admission");
        }
        migrate(&mut conn).expect("upgrade");
        let quota = Quota {
            key: "tool:k".into(),
            limit: RateLimit {
                limit: 3,
                window_secs: 60,
            },
        };
        let at = Timestamp::from_unix;
        assert!(
            !take(&conn, &quota, at(1_059)).expect("take"),
            "three admissions from before the upgrade fill a limit of 3"
        );
        assert!(take(&conn, &quota, at(1_060)).expect("take"));
        let smaller = Quota {
            limit: RateLimit {
                limit: 2,
                window_secs: 60,
            },
            ..quota
        };
        assert!(
            !take(&conn, &smaller, at(1_061)).expect("take"),
            "1,020 and 1,060 still count against a limit of 2"
        );
    }
}
