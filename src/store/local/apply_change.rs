//! A change of access state applied in SQLite, inside the writer's transaction (see
//! [`super::decide`]): each [`Change`] as the statements it takes, and whether it altered
//! anything.

use rusqlite::{params, Connection};

use super::access_rows::{approver_role, grant_on, write_seed, GRANT_COLUMNS, TOOL_COLUMNS};
use super::approval_rows::add_approval;
use super::break_glass_rows::{insert_glass, review_glass};
use super::sql::execute;
use crate::domain::{
    AccessRequest, AccessRequestId, Approval, Grant, Principal, Timestamp, Tool, ToolName,
};
use crate::store::{Change, StoreResult};

/// A seed sealed before it goes to the writer: (nonce, ciphertext).
pub(super) type Sealed = (Vec<u8>, Vec<u8>);

/// Applies `change` at `now`, with the sealed seed of a [`Change::PutTool`]; `true` if it
/// altered anything.
pub(super) fn apply(
    conn: &Connection,
    change: &Change,
    seed: Option<&Sealed>,
    now: Timestamp,
) -> StoreResult<bool> {
    match change {
        Change::PutGrant(g) => put_grant(conn, g),
        Change::DeleteGrant { principal, tool } => delete_grant(conn, principal, tool),
        Change::SetRole {
            principal,
            role,
            on,
        } => set_role(conn, principal, role.as_str(), *on),
        Change::PutTool { tool, .. } => put_tool(conn, tool, seed),
        Change::SetApprover {
            principal,
            tool,
            on,
        } => set_role(conn, principal, &approver_role(tool), *on),
        Change::OpenRequest(r) => open_request(conn, r),
        Change::DecideRequest {
            id,
            by,
            by_name,
            grant,
            ..
        } => decide_request(conn, id, (by, by_name.as_deref()), grant.as_ref(), now),
        Change::Mark(mark) => super::sweep::mark(conn, mark, now),
        Change::AddCopies { id, copies } => super::sweep::add_copies(conn, id, copies),
        Change::CountApproval {
            id,
            approval,
            seen,
            grant,
            ..
        } => count_approval(conn, id, approval, *seen, grant.as_ref(), now),
        Change::BreakGlass { glass, grant, .. } => {
            insert_glass(conn, glass)?;
            put_grant(conn, grant)
        }
        Change::ReviewBreakGlass { id, review, revoke } => {
            let reviewed = review_glass(conn, id, review)?;
            if let Some((principal, tool)) = revoke {
                delete_grant(conn, principal, tool)?;
            }
            Ok(reviewed)
        }
        Change::RemoveTool(name) => {
            execute(conn, "DELETE FROM grants WHERE tool = ?1", [name.as_str()])?;
            let seeds = execute(conn, "DELETE FROM seeds WHERE tool = ?1", [name.as_str()])?;
            let tools = execute(conn, "DELETE FROM tools WHERE name = ?1", [name.as_str()])?;
            Ok(tools + seeds > 0)
        }
    }
}

fn delete_grant(conn: &Connection, principal: &Principal, tool: &ToolName) -> StoreResult<bool> {
    Ok(execute(
        conn,
        "DELETE FROM grants WHERE principal = ?1 AND tool = ?2",
        [principal.as_str(), tool.as_str()],
    )? > 0)
}

fn put_grant(conn: &Connection, g: &Grant) -> StoreResult<bool> {
    let sql = format!(
        "INSERT OR REPLACE INTO grants ({GRANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    );
    let args = params![
        g.principal.as_str(),
        g.tool.as_str(),
        g.granted_by.as_str(),
        g.granted_at.unix(),
        g.expires_at.unix(),
        g.reason,
        g.person.as_str()
    ];
    Ok(execute(conn, &sql, args)? > 0)
}

/// Gives (`on`) or takes away the stored role `role` (a role's name, or an approver role).
fn set_role(conn: &Connection, principal: &Principal, role: &str, on: bool) -> StoreResult<bool> {
    let sql = if on {
        "INSERT OR IGNORE INTO roles (principal, role) VALUES (?1, ?2)"
    } else {
        "DELETE FROM roles WHERE principal = ?1 AND role = ?2"
    };
    Ok(execute(conn, sql, [principal.as_str(), role])? > 0)
}

fn put_tool(conn: &Connection, t: &Tool, seed: Option<&Sealed>) -> StoreResult<bool> {
    if let Some((nonce, ciphertext)) = seed {
        write_seed(conn, t.name.as_str(), nonce, ciphertext)?;
    }
    let sql = format!(
        "INSERT OR REPLACE INTO tools ({TOOL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    );
    let args = params![
        t.name.as_str(),
        t.display_name,
        t.default_grant.secs(),
        t.max_grant.secs(),
        t.notify_channel,
        t.approvals_channel,
        t.rules.approvals_required,
        t.rules.break_glass.map(|d| d.secs())
    ];
    Ok(execute(conn, &sql, args)? > 0)
}

fn open_request(conn: &Connection, r: &AccessRequest) -> StoreResult<bool> {
    let sql = "INSERT INTO access_requests (id, requester, tool, duration, reason, \
               requested_at, expires_at, state, requester_person, approvals_required, \
               requester_name) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10)";
    let args = params![
        r.id.as_str(),
        r.requester.as_str(),
        r.tool.as_str(),
        r.duration.secs(),
        r.reason,
        r.requested_at.unix(),
        r.expires_at.unix(),
        r.requester_person.as_str(),
        r.approvals_required,
        r.requester_name
    ];
    Ok(execute(conn, sql, args)? > 0)
}

/// Decides the open request `id`; an approval carries `grant`, which is stored unless the
/// requester's grant already ends at or after it: an approval never shortens a grant.
fn decide_request(
    conn: &Connection,
    id: &AccessRequestId,
    by: (&Principal, Option<&str>),
    grant: Option<&Grant>,
    now: Timestamp,
) -> StoreResult<bool> {
    let (state, changed) = match grant {
        Some(g) => {
            let held = grant_on(conn, g.principal.as_str(), g.tool.as_str())?;
            let longer = held.is_some_and(|h| h.expires_at >= g.expires_at);
            if !longer {
                put_grant(conn, g)?;
            }
            ("approved", !longer)
        }
        None => ("denied", true),
    };
    let sql = "UPDATE access_requests SET state = ?2, decided_by = ?3, decided_at = ?4, \
               decided_by_name = ?5 WHERE id = ?1 AND state = 'open'";
    let (by, by_name) = by;
    let args = params![id.as_str(), state, by.as_str(), now.unix(), by_name];
    Ok(execute(conn, sql, args)? > 0 && changed)
}

/// Counts `approval` on the open request `id`, found holding `seen` approvals; with `grant`
/// the request is approved and the grant stored unless the requester's grant already ends at
/// or after it. `true` if the grant (or, without one, the approval) was stored.
fn count_approval(
    conn: &Connection,
    id: &AccessRequestId,
    approval: &Approval,
    seen: usize,
    grant: Option<&Grant>,
    now: Timestamp,
) -> StoreResult<bool> {
    add_approval(conn, id, approval, seen)?;
    let Some(g) = grant else {
        return Ok(true);
    };
    let by = (&approval.by, approval.name.as_deref());
    decide_request(conn, id, by, Some(g), now)
}
