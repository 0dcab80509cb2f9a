//! The sweep in SQLite: its reads ([`SweepStore`]), and its marks and copies applied inside the
//! writer's transaction (see [`super::apply_change`]). A mark is one conditional `UPDATE`: it
//! changes a row only while the thing is still to do, so of two sweeps only one marks it.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::access_rows::{
    grant_from_row, request_from_row, to_grant, to_request, GRANT_COLUMNS, REQUEST_COLUMNS,
};
use super::approval_rows::approvals_on;
use super::handle::LocalStore;
use super::sql::{backend, execute};
use crate::domain::{AccessRequestId, Grant, MessageRef, SweepMark, Timestamp};
use crate::store::{StoreResult, SweepStore, SweptRequest};

/// Applies `mark` at `now`: `true` if it was still to do and is now marked.
pub(super) fn mark(conn: &Connection, mark: &SweepMark, now: Timestamp) -> StoreResult<bool> {
    let changed = match mark {
        SweepMark::Reminded(id) => execute(
            conn,
            "UPDATE access_requests SET reminded_at = ?2 WHERE id = ?1 AND state = 'open' \
             AND expires_at > ?2 AND reminded_at IS NULL",
            params![id.as_str(), now.unix()],
        )?,
        SweepMark::ExpiryTold(id) => execute(
            conn,
            "UPDATE access_requests SET expiry_told_at = ?2 WHERE id = ?1 AND state = 'open' \
             AND expires_at <= ?2 AND expiry_told_at IS NULL",
            params![id.as_str(), now.unix()],
        )?,
        SweepMark::GrantWarned {
            principal,
            tool,
            expires_at,
        } => execute(
            conn,
            "UPDATE grants SET warned_at = ?4 WHERE principal = ?1 AND tool = ?2 \
             AND expires_at = ?3 AND expires_at > ?4 AND warned_at IS NULL",
            params![
                principal.as_str(),
                tool.as_str(),
                expires_at.unix(),
                now.unix()
            ],
        )?,
    };
    Ok(changed > 0)
}

/// Adds where copies of request `id`'s message were posted: `true` if the request is there.
pub(super) fn add_copies(
    conn: &Connection,
    id: &AccessRequestId,
    copies: &[MessageRef],
) -> StoreResult<bool> {
    let there = conn
        .prepare_cached("SELECT 1 FROM access_requests WHERE id = ?1")
        .and_then(|mut s| s.exists([id.as_str()]))
        .map_err(backend)?;
    if !there {
        return Ok(false);
    }
    for copy in copies {
        execute(
            conn,
            "INSERT OR IGNORE INTO request_copies (request_id, copy) VALUES (?1, ?2)",
            [id.as_str(), copy.to_stored().as_str()],
        )?;
    }
    Ok(true)
}

/// The copies of request `id`, on any connection. A row otpbot could not have written is
/// skipped and logged: it names no message to update.
fn copies_on(conn: &Connection, id: &str) -> StoreResult<Vec<MessageRef>> {
    let mut stmt = conn
        .prepare_cached("SELECT copy FROM request_copies WHERE request_id = ?1 ORDER BY copy")
        .map_err(backend)?;
    let rows = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    Ok(rows
        .iter()
        .filter_map(|text| {
            let parsed = MessageRef::parse(text);
            if parsed.is_none() {
                tracing::warn!(request = id, "a stored message copy is unreadable; skipped");
            }
            parsed
        })
        .collect())
}

#[async_trait]
impl SweepStore for LocalStore {
    async fn undecided_requests(&self, since: Timestamp) -> StoreResult<Vec<SweptRequest>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {REQUEST_COLUMNS}, reminded_at IS NOT NULL AS reminded \
                 FROM access_requests \
                 WHERE state = 'open' AND expiry_told_at IS NULL AND expires_at > ?1 \
                 ORDER BY requested_at, id"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map([since.unix()], |r| {
                    Ok((request_from_row(r)?, r.get("reminded")?))
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(row, reminded)| {
                    let mut request = to_request(row)?;
                    request.approvals = approvals_on(c, request.id.as_str())?;
                    let copies = copies_on(c, request.id.as_str())?;
                    Ok(SweptRequest {
                        request,
                        reminded,
                        copies,
                    })
                })
                .collect()
        })
        .await
    }

    async fn unwarned_grants(&self, after: Timestamp, until: Timestamp) -> StoreResult<Vec<Grant>> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE expires_at > ?1 AND expires_at <= ?2 \
                 AND warned_at IS NULL ORDER BY expires_at, principal, tool"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map([after.unix(), until.unix()], grant_from_row)
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            rows.into_iter().map(to_grant).collect()
        })
        .await
    }

    async fn copies(&self, id: &AccessRequestId) -> StoreResult<Vec<MessageRef>> {
        let id = id.as_str().to_owned();
        self.read(move |c| copies_on(c, &id)).await
    }
}
