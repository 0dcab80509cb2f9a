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

/// A catalog row's columns, as read, by name.
pub(super) struct ToolRow {
    name: String,
    display_name: String,
    default_grant: i64,
    max_grant: i64,
    notify_channel: Option<String>,
    approvals_channel: Option<String>,
    approvals_required: i64,
    break_glass: Option<i64>,
}

/// A catalog row's columns ([`TOOL_COLUMNS`]), read by name.
pub(super) fn tool_from_row(row: &Row<'_>) -> rusqlite::Result<ToolRow> {
    Ok(ToolRow {
        name: row.get("name")?,
        display_name: row.get("display_name")?,
        default_grant: row.get("default_grant")?,
        max_grant: row.get("max_grant")?,
        notify_channel: row.get("notify_channel")?,
        approvals_channel: row.get("approvals_channel")?,
        approvals_required: row.get("approvals_required")?,
        break_glass: row.get("break_glass")?,
    })
}

/// The catalog entry of `name`, if it is in the catalog.
pub(super) fn tool_on(conn: &Connection, name: &str) -> StoreResult<Option<Tool>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {TOOL_COLUMNS} FROM tools WHERE name = ?1"))
        .map_err(backend)?;
    let row = stmt
        .query_row([name], tool_from_row)
        .optional()
        .map_err(backend)?;
    row.map(to_tool).transpose()
}

/// The catalog entry a row holds, if otpbot could have written it.
pub(super) fn to_tool(row: ToolRow) -> StoreResult<Tool> {
    let break_glass = match row.break_glass {
        Some(secs) => {
            Some(GrantDuration::from_secs(secs).ok_or_else(|| corrupt("tool", "bad break-glass"))?)
        }
        None => None,
    };
    Ok(Tool {
        name: ToolName::parse(&row.name).map_err(|e| corrupt("tool name", e))?,
        display_name: row.display_name,
        default_grant: GrantDuration::from_secs(row.default_grant)
            .ok_or_else(|| corrupt("tool", "bad default grant"))?,
        max_grant: GrantDuration::from_secs(row.max_grant)
            .ok_or_else(|| corrupt("tool", "bad max grant"))?,
        notify_channel: row.notify_channel,
        approvals_channel: row.approvals_channel,
        rules: ToolRules {
            approvals_required: ToolRules::approvals(row.approvals_required)
                .ok_or_else(|| corrupt("tool", "bad approvals required"))?,
            break_glass,
        },
    })
}

/// A grant row's columns, as read, by name.
pub(super) struct GrantRow {
    principal: String,
    tool: String,
    granted_by: String,
    granted_at: i64,
    expires_at: i64,
    reason: Option<String>,
    person: Option<String>,
}

/// A grant row's columns ([`GRANT_COLUMNS`]), read by name.
pub(super) fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok(GrantRow {
        principal: row.get("principal")?,
        tool: row.get("tool")?,
        granted_by: row.get("granted_by")?,
        granted_at: row.get("granted_at")?,
        expires_at: row.get("expires_at")?,
        reason: row.get("reason")?,
        person: row.get("person")?,
    })
}

/// The stored person, or the principal where none is stored.
fn person_or(stored: Option<&str>, principal: &Principal, what: &str) -> StoreResult<Person> {
    match stored {
        Some(text) => Person::parse(text).map_err(|e| corrupt(what, e)),
        None => Ok(Person::from(principal)),
    }
}

/// The grant a row holds, if otpbot could have written it.
pub(super) fn to_grant(row: GrantRow) -> StoreResult<Grant> {
    let principal = Principal::parse(&row.principal).map_err(|e| corrupt("grant principal", e))?;
    Ok(Grant {
        person: person_or(row.person.as_deref(), &principal, "grant person")?,
        principal,
        tool: ToolName::parse(&row.tool).map_err(|e| corrupt("grant tool", e))?,
        granted_by: Principal::parse(&row.granted_by)
            .map_err(|e| corrupt("grant granted_by", e))?,
        granted_at: Timestamp::from_unix(row.granted_at),
        expires_at: Timestamp::from_unix(row.expires_at),
        reason: row.reason,
    })
}

/// A catalog entry's columns, which [`tool_from_row`] reads by name; the catalog's insert binds
/// its values in this order.
pub(super) const TOOL_COLUMNS: &str = "name, display_name, default_grant, max_grant, \
     notify_channel, approvals_channel, approvals_required, break_glass";
/// A grant's columns, which [`grant_from_row`] reads by name; the grant's insert binds its
/// values in this order.
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

/// An access request's columns, which [`request_from_row`] reads by name.
pub(super) const REQUEST_COLUMNS: &str = "id, requester, tool, duration, reason, requested_at, \
     expires_at, state, decided_by, decided_at, requester_person, approvals_required, \
     requester_name, decided_by_name";

/// An access request row's columns, as read, by name.
pub(super) struct RequestRow {
    id: String,
    requester: String,
    tool: String,
    duration: i64,
    reason: Option<String>,
    requested_at: i64,
    expires_at: i64,
    state: String,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    requester_person: Option<String>,
    approvals_required: i64,
    requester_name: Option<String>,
    decided_by_name: Option<String>,
}

/// An access request row's columns ([`REQUEST_COLUMNS`]), read by name.
pub(super) fn request_from_row(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        id: r.get("id")?,
        requester: r.get("requester")?,
        tool: r.get("tool")?,
        duration: r.get("duration")?,
        reason: r.get("reason")?,
        requested_at: r.get("requested_at")?,
        expires_at: r.get("expires_at")?,
        state: r.get("state")?,
        decided_by: r.get("decided_by")?,
        decided_at: r.get("decided_at")?,
        requester_person: r.get("requester_person")?,
        approvals_required: r.get("approvals_required")?,
        requester_name: r.get("requester_name")?,
        decided_by_name: r.get("decided_by_name")?,
    })
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

/// The access request a row holds (without its approvals), if otpbot could have written it.
pub(super) fn to_request(row: RequestRow) -> StoreResult<AccessRequest> {
    let requester = Principal::parse(&row.requester).map_err(|e| corrupt("requester", e))?;
    Ok(AccessRequest {
        id: AccessRequestId::parse(&row.id).ok_or_else(|| corrupt("request", "bad id"))?,
        requester_person: person_or(
            row.requester_person.as_deref(),
            &requester,
            "requester person",
        )?,
        requester,
        tool: ToolName::parse(&row.tool).map_err(|e| corrupt("request tool", e))?,
        duration: GrantDuration::from_secs(row.duration)
            .ok_or_else(|| corrupt("request", "bad duration"))?,
        reason: row.reason,
        requested_at: Timestamp::from_unix(row.requested_at),
        expires_at: Timestamp::from_unix(row.expires_at),
        requester_name: row.requester_name,
        decided_by_name: row.decided_by_name,
        state: request_state(&row.state, row.decided_by.as_deref(), row.decided_at)?,
        approvals_required: ToolRules::approvals(row.approvals_required)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::schema::migrate;

    /// Rows are read by column name: a query that lists the columns in another order, or adds
    /// one before them, reads the same grant.
    #[test]
    fn a_grant_is_read_by_column_name_whatever_the_order() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate(&mut conn).expect("schema");
        conn.execute(
            &format!("INSERT INTO grants ({GRANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                "slack:T1:U1",
                "github",
                "slack:T1:UADMIN",
                100,
                200,
                "incident 42",
                "slack:T1:U1"
            ],
        )
        .expect("insert");
        let read = |sql: &str| {
            conn.query_row(sql, [], grant_from_row)
                .map_err(backend)
                .and_then(to_grant)
                .expect("grant")
        };
        let ordered = read(&format!("SELECT {GRANT_COLUMNS} FROM grants"));
        let shuffled = read(
            "SELECT 1 AS extra, reason, expires_at, person, granted_at, tool, granted_by, \
             principal FROM grants",
        );
        assert_eq!(ordered, shuffled);
        assert_eq!(
            (shuffled.granted_by.as_str(), shuffled.expires_at.unix()),
            ("slack:T1:UADMIN", 200)
        );
        assert_eq!(shuffled.reason.as_deref(), Some("incident 42"));
    }
}
