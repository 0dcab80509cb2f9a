//! Replay markers and rate-limit logs in SQLite, written only inside the writer's transaction.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{backend, LocalStore};
use crate::domain::{Quota, QuotaLog, Timestamp};
use crate::store::{CounterStore, StoreResult};

/// Records the replay marker `key` until `expires_at`; `false` if a live one exists.
pub(super) fn mark(
    conn: &Connection,
    key: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO counters (key, value, expires_at) VALUES (?1, 1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = 1, expires_at = excluded.expires_at
             WHERE counters.expires_at <= ?3",
        )
        .map_err(backend)?;
    let inserted = stmt
        .execute(params![key, expires_at.unix(), now.unix()])
        .map_err(backend)?;
    Ok(inserted == 1)
}

/// The newest `limit` admitted times of `quota`, oldest first: all that can decide whether
/// one more is admitted (older ones can only be outside the window).
pub(super) fn quota_log(conn: &Connection, quota: &Quota) -> StoreResult<QuotaLog> {
    let newest = i64::try_from(quota.limit.limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached("SELECT at FROM quota_events WHERE key = ?1 ORDER BY at DESC LIMIT ?2")
        .map_err(backend)?;
    let mut times = stmt
        .query_map(params![quota.key, newest], |r| r.get::<_, i64>(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    times.reverse();
    Ok(QuotaLog { times, version: 0 })
}

/// Takes one unit of `quota` at `now`; `false` (and nothing written) if it is full. Exact,
/// because only the writer thread runs this, inside its transaction.
pub(super) fn take(conn: &Connection, quota: &Quota, now: Timestamp) -> StoreResult<bool> {
    if !quota_log(conn, quota)?.admits(quota.limit, now) {
        return Ok(false);
    }
    let mut stmt = conn
        .prepare_cached("INSERT INTO quota_events (key, at, keep_until) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    let keep_until = now.unix().saturating_add(quota.limit.window_secs.max(1));
    stmt.execute(params![quota.key, now.unix(), keep_until])
        .map_err(backend)?;
    Ok(true)
}

/// Forgets replay markers and admitted times that can no longer matter at `now`.
pub(super) fn prune(conn: &Connection, now: Timestamp) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM counters WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now.unix()]))
        .map_err(backend)?;
    conn.prepare_cached("DELETE FROM quota_events WHERE keep_until <= ?1")
        .and_then(|mut s| s.execute([now.unix()]))
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl CounterStore for LocalStore {
    async fn first_sighting(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let key = key.to_owned();
        self.write(move |c| {
            let fresh = mark(c, &key, expires_at, now)?;
            Ok((fresh, fresh))
        })
        .await
    }
}
