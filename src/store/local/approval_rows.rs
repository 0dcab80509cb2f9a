//! The approvals of requests that need several (two-person rule) in SQLite: one row per
//! approval in `request_approvals` (at most one per person), and their count on the request,
//! which the writer checks against what the approver read before it counts one more.

use rusqlite::{params, Connection};

use super::sql::{backend, execute};
use crate::domain::{AccessRequestId, Approval, GrantDuration, Person, Principal, Timestamp};
use crate::store::{StoreError, StoreResult};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("request approval: {e}"))
}

/// The approvals of request `id`, oldest first.
pub(super) fn approvals_on(conn: &Connection, id: &str) -> StoreResult<Vec<Approval>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT approver, person, at, duration, name FROM request_approvals \
             WHERE request = ?1 ORDER BY seq",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(by, person, at, duration, name)| {
            Ok(Approval {
                by: Principal::parse(&by).map_err(corrupt)?,
                person: Person::parse(&person).map_err(corrupt)?,
                at: Timestamp::from_unix(at),
                duration: GrantDuration::from_secs(duration).ok_or_else(|| corrupt("duration"))?,
                name,
            })
        })
        .collect()
}

/// Adds `approval` to the open request `id`, which the caller found holding `seen` approvals
/// (the writer checked it is so).
pub(super) fn add_approval(
    conn: &Connection,
    id: &AccessRequestId,
    approval: &Approval,
    seen: usize,
) -> StoreResult<()> {
    let seen = i64::try_from(seen).map_err(corrupt)?;
    let sql = "INSERT INTO request_approvals (request, seq, approver, person, at, duration, \
               name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let args = params![
        id.as_str(),
        seen,
        approval.by.as_str(),
        approval.person.as_str(),
        approval.at.unix(),
        approval.duration.secs(),
        approval.name
    ];
    execute(conn, sql, args)?;
    let counted = execute(
        conn,
        "UPDATE access_requests SET approvals = ?2 WHERE id = ?1 AND approvals = ?3 \
         AND state = 'open'",
        params![id.as_str(), seen + 1, seen],
    )?;
    if counted == 0 {
        return Err(StoreError::Backend(
            "an approval was counted on a request that changed".into(),
        ));
    }
    Ok(())
}
