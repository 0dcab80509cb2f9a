//! Catalog, grants, roles and seeds in SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row};

use super::{backend, LocalStore};
use crate::domain::{
    AccessRequest, AccessRequestId, Grant, GrantDuration, Person, Principal, RequestState, Role,
    Roles, Seed, Timestamp, Tool, ToolName,
};
use crate::store::{AccessStore, SecretStore, StoreError, StoreResult};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

type ToolRow = (String, String, i64, i64, Option<String>, Option<String>);

fn tool_from_row(row: &Row<'_>) -> rusqlite::Result<ToolRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn to_tool((name, display_name, default, max, notify, approvals): ToolRow) -> StoreResult<Tool> {
    Ok(Tool {
        name: ToolName::parse(&name).map_err(|e| corrupt("tool name", e))?,
        display_name,
        default_grant: GrantDuration::from_secs(default)
            .ok_or_else(|| corrupt("tool", "bad default grant"))?,
        max_grant: GrantDuration::from_secs(max).ok_or_else(|| corrupt("tool", "bad max grant"))?,
        notify_channel: notify,
        approvals_channel: approvals,
    })
}

type GrantRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<GrantRow> {
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

fn to_grant((principal, tool, by, at, expires, reason, person): GrantRow) -> StoreResult<Grant> {
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

pub(super) const TOOL_COLUMNS: &str =
    "name, display_name, default_grant, max_grant, notify_channel, approvals_channel";
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

pub(super) const REQUEST_COLUMNS: &str = "id, requester, tool, duration, reason, requested_at, \
     expires_at, state, decided_by, decided_at, requester_person";

type RequestRow = (
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
);

/// The access request `id`, read on `conn`.
pub(super) fn request_on(conn: &Connection, id: &str) -> StoreResult<Option<AccessRequest>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = ?1"
        ))
        .map_err(backend)?;
    let row: Option<RequestRow> = stmt
        .query_row([id], |r| {
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
            ))
        })
        .optional()
        .map_err(backend)?;
    let Some((id, requester, tool, duration, reason, at, expires, state, by, decided_at, person)) =
        row
    else {
        return Ok(None);
    };
    let requester = Principal::parse(&requester).map_err(|e| corrupt("requester", e))?;
    let decider = || -> StoreResult<(Principal, Timestamp)> {
        let by = by
            .as_deref()
            .ok_or_else(|| corrupt("request", "no decider"))?;
        Ok((
            Principal::parse(by).map_err(|e| corrupt("request decider", e))?,
            Timestamp::from_unix(decided_at.unwrap_or_default()),
        ))
    };
    let state = match state.as_str() {
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
    };
    Ok(Some(AccessRequest {
        id: AccessRequestId::parse(&id).ok_or_else(|| corrupt("request", "bad id"))?,
        requester_person: person_or(person.as_deref(), &requester, "requester person")?,
        requester,
        tool: ToolName::parse(&tool).map_err(|e| corrupt("request tool", e))?,
        duration: GrantDuration::from_secs(duration)
            .ok_or_else(|| corrupt("request", "bad duration"))?,
        reason,
        requested_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(expires),
        state,
    }))
}

impl LocalStore {
    async fn grants_where(&self, column: &'static str, value: String) -> StoreResult<Vec<Grant>> {
        let rows = self
            .read(move |c| {
                let order = if column == "tool" {
                    "principal"
                } else {
                    "tool"
                };
                let sql = format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE {column} = ?1 ORDER BY {order}"
                );
                let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt.query_map([value], grant_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        rows.into_iter().map(to_grant).collect()
    }
}

#[async_trait]
impl AccessStore for LocalStore {
    async fn tool(&self, name: &ToolName) -> StoreResult<Option<Tool>> {
        let name = name.as_str().to_owned();
        let row = self
            .read_point(move |c| {
                let mut stmt = c
                    .prepare_cached(&format!("SELECT {TOOL_COLUMNS} FROM tools WHERE name = ?1"))
                    .map_err(backend)?;
                stmt.query_row([name], tool_from_row)
                    .optional()
                    .map_err(backend)
            })
            .await?;
        row.map(to_tool).transpose()
    }

    async fn tools(&self) -> StoreResult<Vec<Tool>> {
        let rows = self
            .read(|c| {
                let mut stmt = c
                    .prepare_cached(&format!("SELECT {TOOL_COLUMNS} FROM tools ORDER BY name"))
                    .map_err(backend)?;
                let rows = stmt.query_map([], tool_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        rows.into_iter().map(to_tool).collect()
    }

    async fn grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Option<Grant>> {
        let (p, t) = (principal.as_str().to_owned(), tool.as_str().to_owned());
        self.read(move |c| grant_on(c, &p, &t)).await
    }

    async fn grants_for(&self, principal: &Principal) -> StoreResult<Vec<Grant>> {
        self.grants_where("principal", principal.as_str().to_owned())
            .await
    }

    async fn holders(&self, tool: &ToolName) -> StoreResult<Vec<Grant>> {
        self.grants_where("tool", tool.as_str().to_owned()).await
    }

    async fn roles(&self, principal: &Principal) -> StoreResult<Roles> {
        let p = principal.as_str().to_owned();
        let names = self
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT role FROM roles WHERE principal = ?1")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([p], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        Ok(names
            .iter()
            .filter_map(|n| Role::parse(n))
            .fold(Roles::default(), Roles::with))
    }

    async fn is_approver(&self, principal: &Principal, tool: &ToolName) -> StoreResult<bool> {
        let p = principal.as_str().to_owned();
        let role = approver_role(tool);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT 1 FROM roles WHERE principal = ?1 AND role = ?2")
                .map_err(backend)?;
            stmt.exists([p, role]).map_err(backend)
        })
        .await
    }

    async fn approvers(&self, tool: &ToolName) -> StoreResult<Vec<Principal>> {
        let role = approver_role(tool);
        let names = self
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT DISTINCT principal FROM roles WHERE role = ?1 OR role = ?2 \
                         ORDER BY principal",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([Role::Admin.as_str(), &role], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        names
            .iter()
            .map(|n| Principal::parse(n).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn access_request(&self, id: &AccessRequestId) -> StoreResult<Option<AccessRequest>> {
        let id = id.as_str().to_owned();
        self.read(move |c| request_on(c, &id)).await
    }
}

#[async_trait]
impl SecretStore for LocalStore {
    async fn put_seed(&self, tool: &ToolName, seed: &Seed) -> StoreResult<()> {
        let (nonce, ciphertext) = self.key.seal(tool, seed)?;
        let name = tool.as_str().to_owned();
        self.write(move |c| {
            super::decide::write_seed(c, &name, &nonce, &ciphertext)?;
            Ok(((), true))
        })
        .await
    }

    async fn seed(&self, tool: &ToolName) -> StoreResult<Option<Seed>> {
        let name = tool.as_str().to_owned();
        let row = self
            .read_point(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT nonce, ciphertext FROM seeds WHERE tool = ?1")
                    .map_err(backend)?;
                stmt.query_row([name], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
                .map_err(backend)
            })
            .await?;
        row.map(|(nonce, ciphertext)| self.key.open(tool, &nonce, &ciphertext))
            .transpose()
    }

    async fn delete_seed(&self, tool: &ToolName) -> StoreResult<bool> {
        let name = tool.as_str().to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM seeds WHERE tool = ?1")
                .and_then(|mut s| s.execute([name]))
                .map_err(backend)?;
            Ok((n > 0, true))
        })
        .await
    }
}
