//! Replay markers in SQLite (`counters`), written only inside the writer's transaction, and
//! the sweep that forgets expired markers and idle rate-limit rings (see [`super::rings`]).

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::handle::LocalStore;
use super::sql::backend;
use crate::domain::{Timestamp, LATE_SECS};
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

/// Forgets replay markers and rings that can no longer matter to a decision timed at or after
/// `now - LATE_SECS`, and raises the floor to that time. The rings are scanned, not looked up
/// by an index of their expiry: such an index changed with every decision, and the sweep
/// runs once in many decisions.
pub(super) fn prune(conn: &Connection, now: Timestamp) -> StoreResult<()> {
    let now = now.unix();
    conn.prepare_cached("DELETE FROM counters WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .map_err(backend)?;
    conn.prepare_cached("UPDATE quota_floor SET floor = max(floor, ?1)")
        .and_then(|mut s| s.execute([now.saturating_sub(LATE_SECS)]))
        .map_err(backend)?;
    conn.prepare_cached(
        "DELETE FROM quota_chunks WHERE key IN
             (SELECT key FROM quota_rings WHERE keep_until <= ?1)",
    )
    .and_then(|mut s| s.execute([now]))
    .map_err(backend)?;
    conn.prepare_cached("DELETE FROM quota_rings WHERE keep_until <= ?1")
        .and_then(|mut s| s.execute([now]))
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
