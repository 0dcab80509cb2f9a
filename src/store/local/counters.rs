//! Replay and rate-limit counters in SQLite, each a single atomic statement.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{backend, LocalStore};
use crate::domain::Timestamp;
use crate::store::{CounterStore, StoreResult};

#[async_trait]
impl CounterStore for LocalStore {
    async fn first_sighting(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let key = key.to_owned();
        self.with_conn(move |c| {
            c.execute("DELETE FROM counters WHERE expires_at <= ?1", [now.unix()])
                .map_err(backend)?;
            let inserted = c
                .execute(
                    "INSERT INTO counters (key, value, expires_at) VALUES (?1, 1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = 1, expires_at = excluded.expires_at
                     WHERE counters.expires_at <= ?3",
                    params![key, expires_at.unix(), now.unix()],
                )
                .map_err(backend)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let key = key.to_owned();
        self.with_conn(move |c| {
            c.query_row(
                "INSERT INTO counters (key, value, expires_at) VALUES (?1, 1, ?2)
                 ON CONFLICT (key) DO UPDATE SET
                    value = CASE WHEN counters.expires_at <= ?3 THEN 1 ELSE counters.value + 1 END,
                    expires_at = CASE WHEN counters.expires_at <= ?3 THEN excluded.expires_at ELSE counters.expires_at END
                 RETURNING value",
                params![key, expires_at.unix(), now.unix()],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v.max(0) as u64)
            .map_err(backend)
        })
        .await
    }

    async fn count(&self, key: &str, now: Timestamp) -> StoreResult<u64> {
        let key = key.to_owned();
        self.with_conn(move |c| {
            c.query_row(
                "SELECT value FROM counters WHERE key = ?1 AND expires_at > ?2",
                params![key, now.unix()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.unwrap_or(0).max(0) as u64)
            .map_err(backend)
        })
        .await
    }
}
