//! Decisions in SQLite: each runs as one job on the writer thread, so its checks and writes see
//! no other writer between them, and commits with its audit record or not at all.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::access::{approver_role, grant_on, request_on, GRANT_COLUMNS, TOOL_COLUMNS};
use super::audit::insert_event;
use super::counters::{mark, prune, quota_log, take};
use super::{backend, LocalStore};
use crate::domain::{AuditEvent, Principal, Quota, RequestState, ToolName};
use crate::store::{Change, Decision, DecisionStore, DecisionView, Effect, StoreResult, Verdict};

/// Decisions between two sweeps of expired markers and quota times.
const PRUNE_EVERY: u64 = 1_024;

/// A seed sealed before it goes to the writer: (nonce, ciphertext).
type Sealed = (Vec<u8>, Vec<u8>);

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

fn execute(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(args))
        .map_err(backend)
}

/// Applies `change` at `now`; `true` if it altered anything.
fn apply(
    conn: &Connection,
    change: &Change,
    seed: Option<&Sealed>,
    now: crate::domain::Timestamp,
) -> StoreResult<bool> {
    Ok(match change {
        Change::PutGrant(g) => {
            let sql = format!(
                "INSERT OR REPLACE INTO grants ({GRANT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            );
            execute(
                conn,
                &sql,
                params![
                    g.principal.as_str(),
                    g.tool.as_str(),
                    g.granted_by.as_str(),
                    g.granted_at.unix(),
                    g.expires_at.unix(),
                    g.reason,
                    g.person.as_str()
                ],
            )? > 0
        }
        Change::DeleteGrant { principal, tool } => {
            execute(
                conn,
                "DELETE FROM grants WHERE principal = ?1 AND tool = ?2",
                [principal.as_str(), tool.as_str()],
            )? > 0
        }
        Change::SetRole {
            principal,
            role,
            on,
        } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO roles (principal, role) VALUES (?1, ?2)"
            } else {
                "DELETE FROM roles WHERE principal = ?1 AND role = ?2"
            };
            execute(conn, sql, [principal.as_str(), role.as_str()])? > 0
        }
        Change::PutTool { tool: t, .. } => {
            if let Some((nonce, ciphertext)) = seed {
                write_seed(conn, t.name.as_str(), nonce, ciphertext)?;
            }
            let sql = format!(
                "INSERT OR REPLACE INTO tools ({TOOL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            );
            execute(
                conn,
                &sql,
                params![
                    t.name.as_str(),
                    t.display_name,
                    t.default_grant.secs(),
                    t.max_grant.secs(),
                    t.notify_channel,
                    t.approvals_channel
                ],
            )? > 0
        }
        Change::SetApprover {
            principal,
            tool,
            on,
        } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO roles (principal, role) VALUES (?1, ?2)"
            } else {
                "DELETE FROM roles WHERE principal = ?1 AND role = ?2"
            };
            execute(conn, sql, [principal.as_str(), &approver_role(tool)])? > 0
        }
        Change::OpenRequest(r) => {
            let sql = "INSERT INTO access_requests (id, requester, tool, duration, reason, \
                       requested_at, expires_at, state, requester_person) \
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)";
            execute(
                conn,
                sql,
                params![
                    r.id.as_str(),
                    r.requester.as_str(),
                    r.tool.as_str(),
                    r.duration.secs(),
                    r.reason,
                    r.requested_at.unix(),
                    r.expires_at.unix(),
                    r.requester_person.as_str()
                ],
            )? > 0
        }
        Change::DecideRequest { id, by, grant, .. } => {
            // An approval never shortens a grant: one that already ends later stays as it is.
            let (state, changed) = match grant {
                Some(g) => {
                    let held = grant_on(conn, g.principal.as_str(), g.tool.as_str())?;
                    let longer = held.is_some_and(|h| h.expires_at >= g.expires_at);
                    if !longer {
                        apply(conn, &Change::PutGrant(g.clone()), None, now)?;
                    }
                    ("approved", !longer)
                }
                None => ("denied", true),
            };
            let at = now.unix();
            let sql = "UPDATE access_requests SET state = ?2, decided_by = ?3, decided_at = ?4 \
                       WHERE id = ?1 AND state = 'open'";
            execute(conn, sql, params![id.as_str(), state, by.as_str(), at])? > 0 && changed
        }
        Change::RemoveTool(name) => {
            execute(conn, "DELETE FROM grants WHERE tool = ?1", [name.as_str()])?;
            let seeds = execute(conn, "DELETE FROM seeds WHERE tool = ?1", [name.as_str()])?;
            let tools = execute(conn, "DELETE FROM tools WHERE name = ?1", [name.as_str()])?;
            tools + seeds > 0
        }
    })
}

/// Whether the tool an access request change needs is in the catalog (`true` for other changes).
fn catalogued_tool(
    change: &Change,
    catalogued: &dyn Fn(&ToolName) -> StoreResult<bool>,
) -> StoreResult<bool> {
    match change {
        Change::OpenRequest(r) => catalogued(&r.tool),
        Change::DecideRequest { grant: Some(g), .. } => catalogued(&g.tool),
        _ => Ok(true),
    }
}

/// Why an access request change cannot be made at `now`, if it cannot: another open request
/// of the same requester and tool, or a request that is gone, decided or expired.
fn request_check(
    conn: &Connection,
    change: &Change,
    now: crate::domain::Timestamp,
) -> StoreResult<Option<Verdict>> {
    match change {
        Change::OpenRequest(r) => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT 1 FROM access_requests WHERE requester = ?1 AND tool = ?2 \
                     AND state = 'open' AND expires_at > ?3",
                )
                .map_err(backend)?;
            let open = stmt
                .exists(params![r.requester.as_str(), r.tool.as_str(), now.unix()])
                .map_err(backend)?;
            Ok(open.then_some(Verdict::Pending))
        }
        Change::DecideRequest { id, .. } => Ok(match request_on(conn, id.as_str())? {
            None => Some(Verdict::NoRequest),
            Some(r) if r.state != RequestState::Open => Some(Verdict::Decided),
            Some(r) if !r.is_open(now) => Some(Verdict::RequestExpired),
            Some(_) => None,
        }),
        _ => Ok(None),
    }
}

/// Runs one decision on the writer's connection: checks first, then writes. Returns the
/// verdict and whether its writes are to be kept.
fn run(conn: &Connection, d: &Decision, sealed: Option<&Sealed>) -> StoreResult<(Verdict, bool)> {
    let refuse = |v: Verdict| Ok((v, false));
    if let Some(m) = &d.replay {
        if !mark(conn, &m.key, m.expires_at, d.now)? {
            return refuse(Verdict::Replay);
        }
    }
    let catalogued = |tool: &ToolName| -> StoreResult<bool> {
        let mut stmt = conn
            .prepare_cached("SELECT 1 FROM tools WHERE name = ?1")
            .map_err(backend)?;
        stmt.exists([tool.as_str()]).map_err(backend)
    };
    if let Effect::Change {
        change: Change::PutGrant(g),
        ..
    } = &d.effect
    {
        if !catalogued(&g.tool)? {
            return refuse(Verdict::UnknownTool);
        }
    }
    if let Effect::Change { change, .. } = &d.effect {
        if let Some(verdict) = request_check(conn, change, d.now)? {
            return refuse(verdict);
        }
        if !catalogued_tool(change, &catalogued)? {
            return refuse(Verdict::UnknownTool);
        }
    }
    if let Effect::Issue { principal, tool } = &d.effect {
        if !catalogued(tool)? {
            return refuse(Verdict::UnknownTool);
        }
        match grant_on(conn, principal.as_str(), tool.as_str())? {
            None => return refuse(Verdict::NoGrant),
            Some(g) if !g.is_active(d.now) => return refuse(Verdict::Expired(g.expires_at)),
            Some(_) => {}
        }
    }
    for (index, quota) in d.quotas.iter().enumerate() {
        if !take(conn, quota, d.now)? {
            return refuse(Verdict::Limited(index));
        }
    }
    let mut record: Option<&AuditEvent> = d.record.as_ref();
    let mut changed = true;
    if let Effect::Change {
        change,
        if_unchanged,
    } = &d.effect
    {
        changed = apply(conn, change, sealed, d.now)?;
        if !changed {
            record = if_unchanged.as_ref();
        }
    }
    if let Some(event) = record {
        insert_event(conn, event)?;
    }
    Ok((Verdict::Done { changed }, true))
}

#[async_trait]
impl DecisionStore for LocalStore {
    async fn view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView> {
        let principal = principal.as_str().to_owned();
        let tool = tool.map(|t| t.as_str().to_owned());
        let quotas = quotas.to_vec();
        self.read_point(move |c| {
            let grant = match &tool {
                Some(t) => grant_on(c, &principal, t)?,
                None => None,
            };
            let logs = quotas
                .iter()
                .map(|q| quota_log(c, q))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(DecisionView { grant, logs })
        })
        .await
    }

    async fn decide(&self, _view: &DecisionView, decision: &Decision) -> StoreResult<Verdict> {
        let sealed = match &decision.effect {
            Effect::Change {
                change:
                    Change::PutTool {
                        tool,
                        seed: Some(seed),
                    },
                ..
            } => Some(self.key.seal(&tool.name, seed)?),
            _ => None,
        };
        let decision = decision.clone();
        let sweep = self.decisions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == 0;
        self.write(move |c| {
            if sweep {
                prune(c, decision.now)?;
            }
            run(c, &decision, sealed.as_ref())
        })
        .await
    }
}
