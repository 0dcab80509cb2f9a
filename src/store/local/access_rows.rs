//! The access tables' rows in SQLite: the catalog, grants, access requests and seeds, read back
//! into checked types and written, on whatever connection the caller holds (a read connection,
//! or the writer's inside its transaction).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::approval_rows::approvals_on;
use super::sql::backend;
use crate::domain::{
    AccessRequest, AccessRequestId, Grant, GrantDuration, Person, Principal, RequestState,
    Timestamp, Tool, ToolName, ToolRules,
};
use crate::store::{StoreError, StoreResult};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A catalog row's columns, as read.
pub(super) type ToolRow = (
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

/// A catalog row's columns ([`TOOL_COLUMNS`]).
pub(super) fn tool_from_row(row: &Row<'_>) -> rusqlite::Result<ToolRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

/// The catalog entry a row holds, if otpbot could have written it.
pub(super) fn to_tool(
    (name, display_name, default, max, notify, approvals, required, break_glass): ToolRow,
) -> StoreResult<Tool> {
    let break_glass = match break_glass {
        Some(secs) => {
            Some(GrantDuration::from_secs(secs).ok_or_else(|| corrupt("tool", "bad break-glass"))?)
        }
        None => None,
    };
    Ok(Tool {
        name: ToolName::parse(&name).map_err(|e| corrupt("tool name", e))?,
        display_name,
        default_grant: GrantDuration::from_secs(default)
            .ok_or_else(|| corrupt("tool", "bad default grant"))?,
        max_grant: GrantDuration::from_secs(max).ok_or_else(|| corrupt("tool", "bad max grant"))?,
        notify_channel: notify,
        approvals_channel: approvals,
        rules: ToolRules {
            approvals_required: ToolRules::approvals(required)
                .ok_or_else(|| corrupt("tool", "bad approvals required"))?,
            break_glass,
        },
    })
}

/// A grant row's columns, as read.
pub(super) type GrantRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

/// A grant row's columns ([`GRANT_COLUMNS`]).
pub(super) fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

/// The stored person, or the principal where none is stored.
fn person_or(stored: Option<&str>, principal: &Principal, what: &str) -> StoreResult<Person> {
    match stored {
        Some(text) => Person::parse(text).map_err(|e| corrupt(what, e)),
        None => Ok(Person::from(principal)),
    }
}

/// The grant a row holds, if otpbot could have written it.
pub(super) fn to_grant(
    (principal, tool, by, at, expires, reason, person): GrantRow,
) -> StoreResult<Grant> {
    let principal = Principal::parse(&principal).map_err(|e| corrupt("grant principal", e))?;
    Ok(Grant {
        person: person_or(person.as_deref(), &principal, "grant person")?,
        principal,
        tool: ToolName::parse(&tool).map_err(|e| corrupt("grant tool", e))?,
        granted_by: Principal::parse(&by).map_err(|e| corrupt("grant granted_by", e))?,
        granted_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(expires),
        reason,
    })
}

/// A catalog entry's columns, in the order [`tool_from_row`] reads them.
pub(super) const TOOL_COLUMNS: &str = "name, display_name, default_grant, max_grant, \
     notify_channel, approvals_channel, approvals_required, break_glass";
/// A grant's columns, in the order [`grant_from_row`] reads them.
pub(super) const GRANT_COLUMNS: &str =
    "principal, tool, granted_by, granted_at, expires_at, reason, person";

/// The grant of `principal` for `tool`, on any connection (the writer re-checks with it).
pub(super) fn grant_on(
    conn: &Connection,
    principal: &str,
    tool: &str,
) -> StoreResult<Option<Grant>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE principal = ?1 AND tool = ?2"
        ))
        .map_err(backend)?;
    let row = stmt
        .query_row([principal, tool], grant_from_row)
        .optional()
        .map_err(backend)?;
    row.map(to_grant).transpose()
}

/// The stored role name of the approver role for `tool`.
pub(super) fn approver_role(tool: &ToolName) -> String {
    format!("approver:{tool}")
}

/// An access request's columns, in the order [`request_on`] reads them.
pub(super) const REQUEST_COLUMNS: &str = "id, requester, tool, duration, reason, requested_at, \
     expires_at, state, decided_by, decided_at, requester_person, approvals_required, \
     requester_name, decided_by_name";

pub(super) type RequestRow = (
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);

pub(super) fn request_from_row(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

/// The access request `id`, read on `conn`.
pub(super) fn request_on(conn: &Connection, id: &str) -> StoreResult<Option<AccessRequest>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = ?1"
        ))
        .map_err(backend)?;
    let row = stmt
        .query_row([id], request_from_row)
        .optional()
        .map_err(backend)?;
    let Some(mut request) = row.map(to_request).transpose()? else {
        return Ok(None);
    };
    request.approvals = approvals_on(conn, id)?;
    Ok(Some(request))
}

pub(super) fn to_request(row: RequestRow) -> StoreResult<AccessRequest> {
    let (
        id,
        requester,
        tool,
        duration,
        reason,
        at,
        expires,
        state,
        by,
        decided_at,
        person,
        required,
        name,
        decider_name,
    ) = row;
    let requester = Principal::parse(&requester).map_err(|e| corrupt("requester", e))?;
    Ok(AccessRequest {
        id: AccessRequestId::parse(&id).ok_or_else(|| corrupt("request", "bad id"))?,
        requester_person: person_or(person.as_deref(), &requester, "requester person")?,
        requester,
        tool: ToolName::parse(&tool).map_err(|e| corrupt("request tool", e))?,
        duration: GrantDuration::from_secs(duration)
            .ok_or_else(|| corrupt("request", "bad duration"))?,
        reason,
        requested_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(expires),
        requester_name: name,
        decided_by_name: decider_name,
        state: request_state(&state, by.as_deref(), decided_at)?,
        approvals_required: ToolRules::approvals(required)
            .ok_or_else(|| corrupt("request", "bad approvals required"))?,
        approvals: Vec::new(),
    })
}

/// A request's state from its `state` column and, once decided, who decided it when.
fn request_state(state: &str, by: Option<&str>, at: Option<i64>) -> StoreResult<RequestState> {
    let decider = || -> StoreResult<(Principal, Timestamp)> {
        let by = by.ok_or_else(|| corrupt("request", "no decider"))?;
        Ok((
            Principal::parse(by).map_err(|e| corrupt("request decider", e))?,
            Timestamp::from_unix(at.unwrap_or_default()),
        ))
    };
    Ok(match state {
        "open" => RequestState::Open,
        "approved" => {
            let (by, at) = decider()?;
            RequestState::Approved { by, at }
        }
        "denied" => {
            let (by, at) = decider()?;
            RequestState::Denied { by, at }
        }
        other => return Err(corrupt("request state", other)),
    })
}

/// Writes an encrypted seed.
pub(super) fn write_seed(
    conn: &Connection,
    tool: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO seeds (tool, nonce, ciphertext) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![tool, nonce, ciphertext]))
    .map(drop)
    .map_err(backend)
}
