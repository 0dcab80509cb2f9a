//! Rate-limit rings in SQLite, written only inside the writer's transaction.
//!
//! A limit of `N` per window is kept per quota key as a ring of `N` slots (see
//! [`RingHead`]). `quota_rings` holds one row per key: the admission counter, the newest
//! admission time, and slots 0 to 63 as a blob of 8-byte big-endian times; a ring of more than
//! [`CHUNK`] slots keeps the rest in `quota_chunks`, [`CHUNK`] slots to a row. A decision reads
//! the ring row and, past slot 63, the one chunk of its slot (one statement), and writes the
//! same; at the default limits that is one row read and one written per quota key, whatever
//! `N` is. Rings idle for a whole window plus [`LATE_SECS`] are swept (see
//! [`super::counters::prune`]); `quota_floor` remembers how far back that sweep has forgotten,
//! and a decision timed before the floor is refused rather than judged against a history no
//! longer held.

use rusqlite::{params, Connection};

use super::sql::backend;
use crate::domain::{Quota, QuotaLog, RateLimit, RingHead, Timestamp, LATE_SECS};
use crate::store::StoreResult;

/// Slots in the ring row, and in each row of `quota_chunks`.
const CHUNK: u64 = 64;

/// Bytes a slot takes in a blob: one big-endian `i64`.
const SLOT_BYTES: usize = 8;

/// What one statement reads of a quota key's ring.
struct Ring {
    /// Decisions timed before this are refused.
    floor: i64,
    /// The ring's head and size, if it has admitted anything (and was not swept).
    head: Option<(RingHead, u64)>,
    /// Slots 0 to 63, as stored in the ring row.
    first: Vec<u8>,
    /// The chunk that holds the slot the next admission reads and writes, if that slot lies
    /// past the ring row's and the chunk exists.
    chunk: Option<Vec<u8>>,
}

impl Ring {
    /// Where the slot the next admission reads and writes lives: its chunk (0: the ring row)
    /// and its offset in that chunk's blob.
    fn place(&self) -> (u64, usize) {
        let slot = match self.head {
            Some((head, size)) => head.admitted % size.max(1),
            None => 0,
        };
        (slot / CHUNK, slot_offset(slot))
    }

    /// The value of the deciding slot, if the ring is full and has it.
    fn deciding(&self, limit: RateLimit) -> Option<i64> {
        let (head, _) = self.head?;
        head.deciding_slot(limit)?;
        let (chunk, offset) = self.place();
        let blob = if chunk == 0 {
            self.first.as_slice()
        } else {
            self.chunk.as_deref()?
        };
        slot_value(blob, offset)
    }
}

/// The byte offset of `slot` in its chunk's blob.
fn slot_offset(slot: u64) -> usize {
    usize::try_from(slot % CHUNK).unwrap_or(0) * SLOT_BYTES
}

/// The time in `blob` at byte `offset`, if the blob holds one there.
fn slot_value(blob: &[u8], offset: usize) -> Option<i64> {
    let bytes = blob.get(offset..offset + SLOT_BYTES)?;
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

/// Writes `value` into `blob` at byte `offset`, growing the blob if it ends before.
fn set_slot(blob: &mut Vec<u8>, offset: usize, value: i64) {
    if blob.len() < offset + SLOT_BYTES {
        blob.resize(offset + SLOT_BYTES, 0);
    }
    blob[offset..offset + SLOT_BYTES].copy_from_slice(&value.to_be_bytes());
}

/// The floor, a key's ring row and the chunk of its next slot, in one statement (64 is
/// [`CHUNK`]).
const RING_SQL: &str = "SELECT f.floor, r.size, r.admitted, r.newest, r.slots, c.slots
     FROM quota_floor AS f
     LEFT JOIN quota_rings AS r ON r.key = ?1
     LEFT JOIN quota_chunks AS c
         ON c.key = ?1 AND r.size > 64 AND c.chunk = (r.admitted % r.size) / 64";

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
            first: row.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
            chunk: row.get(5)?,
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
        Some((_, size)) if size == quota.limit.limit => ring.deciding(quota.limit),
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
        ring = relay(conn, &quota.key, limit, ring.floor)?;
    }
    let head = ring.head.map(|(head, _)| head).unwrap_or_default();
    if !head.admits(limit, ring.deciding(limit), now) {
        return Ok(false);
    }
    let (chunk, offset) = ring.place();
    let (next, _, value) = head.admit(limit, now);
    if chunk == 0 {
        set_slot(&mut ring.first, offset, value);
    } else {
        let mut blob = ring.chunk.take().unwrap_or_default();
        set_slot(&mut blob, offset, value);
        conn.prepare_cached(
            "INSERT OR REPLACE INTO quota_chunks (key, chunk, slots) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![quota.key, to_sql(chunk), blob]))
        .map_err(backend)?;
    }
    put_ring(conn, &quota.key, limit, next, &ring.first)?;
    Ok(true)
}

/// Writes the ring row of `key`: its head for `limit` and its first slots.
fn put_ring(
    conn: &Connection,
    key: &str,
    limit: RateLimit,
    head: RingHead,
    first: &[u8],
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO quota_rings (key, size, admitted, newest, keep_until, slots)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key) DO UPDATE SET size = excluded.size, admitted = excluded.admitted,
             newest = excluded.newest, keep_until = excluded.keep_until, slots = excluded.slots",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            to_sql(limit.limit),
            to_sql(head.admitted),
            head.newest,
            keep_until(limit, head.newest),
            first
        ])
    })
    .map(drop)
    .map_err(backend)
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

/// Every slot value of the ring of `key`, in no particular order.
fn all_slots(conn: &Connection, key: &str) -> StoreResult<Vec<i64>> {
    let blobs = conn
        .prepare_cached(
            "SELECT slots FROM quota_rings WHERE key = ?1
             UNION ALL SELECT slots FROM quota_chunks WHERE key = ?1",
        )
        .and_then(|mut s| {
            s.query_map([key], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    Ok(blobs
        .iter()
        .flat_map(|blob| blob.chunks_exact(SLOT_BYTES))
        .filter_map(|bytes| bytes.try_into().ok().map(i64::from_be_bytes))
        .collect())
}

/// Re-lays the ring of `key` for `limit` after the setting changed (reads and rewrites the
/// old ring once); returns the ring as re-laid.
fn relay(conn: &Connection, key: &str, limit: RateLimit, floor: i64) -> StoreResult<Ring> {
    let (head, slots) = RingHead::relaid(&all_slots(conn, key)?, limit);
    let blobs: Vec<Vec<u8>> = slots
        .chunks(CHUNK as usize)
        .map(|chunk| chunk.iter().flat_map(|at| at.to_be_bytes()).collect())
        .collect();
    conn.prepare_cached("DELETE FROM quota_chunks WHERE key = ?1")
        .and_then(|mut s| s.execute([key]))
        .map_err(backend)?;
    for (chunk, blob) in blobs.iter().enumerate().skip(1) {
        conn.prepare_cached("INSERT INTO quota_chunks (key, chunk, slots) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![key, chunk as i64, blob]))
            .map_err(backend)?;
    }
    let first = blobs.first().cloned().unwrap_or_default();
    put_ring(conn, key, limit, head, &first)?;
    let mut ring = Ring {
        floor,
        head: Some((head, limit.limit)),
        first,
        chunk: None,
    };
    let (chunk, _) = ring.place();
    if chunk > 0 {
        ring.chunk = blobs.get(chunk as usize).cloned();
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::super::counters::prune;
    use super::super::schema::{migrate, migrate_to, INLINE_RINGS_VERSION};
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

    /// The slots held, in ring rows and chunks together.
    fn slots(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT (SELECT coalesce(sum(length(slots)), 0) FROM quota_rings)
                  + (SELECT coalesce(sum(length(slots)), 0) FROM quota_chunks)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .expect("count")
            / SLOT_BYTES as i64
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
        assert_eq!(last.1, 2, "the ring row and one chunk of slots written");
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

    /// Against a plain list of admitted times, for limits below, at and above the slots a ring
    /// row holds: with times in order a ring admits exactly what the list does.
    #[test]
    fn rings_of_any_size_admit_exactly_what_a_list_of_times_does() {
        let conn = db();
        for limit in [1, 2, 63, 64, 65, 128, 130, 200] {
            let q = Quota {
                key: format!("tool:k{limit}"),
                limit: RateLimit {
                    limit,
                    window_secs: 60,
                },
            };
            let mut admitted: Vec<i64> = Vec::new();
            // Bursts of up to half the limit, 1 to 12 s apart (a fixed pseudo-random walk):
            // far more than a window admits, so the ring goes round many times and is full when
            // its next slot lies at every position.
            let mut x: u64 = limit;
            let mut next = || {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                x >> 33
            };
            let mut t = 0;
            for _ in 0..400 {
                t += 1 + (next() % 12) as i64;
                for _ in 0..1 + next() % (limit / 2 + 1) {
                    let listed = admitted.iter().filter(|&&a| a > t - 60).count() < limit as usize;
                    assert_eq!(
                        take(&conn, &q, at(t)).expect("take"),
                        listed,
                        "limit {limit} at {t}"
                    );
                    if listed {
                        admitted.push(t);
                    }
                }
            }
        }
    }

    /// A limit changed across the ring row's 64 slots re-lays the ring and stays exact.
    #[test]
    fn a_ring_relaid_across_chunks_stays_exact() {
        let conn = db();
        let q = |limit| Quota {
            key: "tool:k".into(),
            limit: RateLimit {
                limit,
                window_secs: 60,
            },
        };
        for i in 0..130 {
            assert!(take(&conn, &q(130), at(1_000 + i)).expect("take"));
        }
        assert_eq!(slots(&conn), 130);
        // 70 newest: 1,060 to 1,129; the next to go is 1,060.
        assert!(
            !take(&conn, &q(70), at(1_119)).expect("take"),
            "70 in the window"
        );
        assert_eq!(slots(&conn), 70, "re-laid to 70 slots");
        assert!(
            take(&conn, &q(70), at(1_120)).expect("take"),
            "1,060 left it"
        );
        assert!(
            !take(&conn, &q(70), at(1_120)).expect("take"),
            "1,061 still in"
        );
        assert!(
            !take(&conn, &q(10), at(1_180)).expect("take"),
            "1,120 to 1,129 in"
        );
        assert_eq!(slots(&conn), 10, "re-laid to 10 slots");
        assert!(take(&conn, &q(10), at(1_181)).expect("take"));
    }

    /// Rings stored a row per slot, before slots moved into blobs, decide the same after the
    /// upgrade: a ring of 3 and one of 70 whose next slot lies past the ring row's 64.
    #[test]
    fn rings_from_before_inline_slots_decide_the_same() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate_to(&mut conn, INLINE_RINGS_VERSION - 1).expect("old schema");
        let old_ring = |key: &str, size: i64, admitted: i64, slots: &[i64]| {
            let newest = slots.iter().max().copied().unwrap_or(0);
            conn.execute(
                "INSERT INTO quota_rings (key, size, admitted, newest, keep_until)
                 VALUES (?1, ?2, ?3, ?4, ?4 + 360)",
                params![key, size, admitted, newest],
            )
            .expect("old ring");
            for (slot, at) in slots.iter().enumerate() {
                conn.execute(
                    "INSERT INTO quota_slots (key, slot, at) VALUES (?1, ?2, ?3)",
                    params![key, slot as i64, at],
                )
                .expect("old slot");
            }
        };
        old_ring("tool:small", 3, 3, &[1_000, 1_010, 1_020]);
        // 136 admitted into 70 slots: the next reads and writes slot 66.
        let big: Vec<i64> = (0..70).map(|slot| 2_000 + slot).collect();
        old_ring("tool:big", 70, 136, &big);
        migrate(&mut conn).expect("upgrade");
        assert_eq!(slots(&conn), 73, "every slot moved");
        let q = |key: &str, limit| Quota {
            key: key.into(),
            limit: RateLimit {
                limit,
                window_secs: 60,
            },
        };
        assert!(!take(&conn, &q("tool:small", 3), at(1_059)).expect("take"));
        assert!(take(&conn, &q("tool:small", 3), at(1_060)).expect("take"));
        assert!(
            !take(&conn, &q("tool:big", 70), at(2_066 + 59)).expect("take"),
            "slot 66 holds 2,066"
        );
        assert!(take(&conn, &q("tool:big", 70), at(2_066 + 60)).expect("take"));
        assert!(
            !take(&conn, &q("tool:big", 70), at(2_067 + 59)).expect("take"),
            "slot 67 holds 2,067"
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
