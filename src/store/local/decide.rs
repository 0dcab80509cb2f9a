//! Decisions in SQLite: each runs as one job on the writer thread, so its checks and writes see
//! no other writer between them, and commits with its audit record or not at all.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::access_rows::{grant_on, request_on, tool_on};
use super::apply_change::{apply, Sealed};
use super::audit_rows::insert_event;
use super::break_glass_rows::glass_check;
use super::counters::{mark, prune};
use super::handle::LocalStore;
use super::rings::{quota_log, take};
use super::sql::backend;
use crate::domain::{AuditEvent, Grant, Principal, Quota, RequestState, Timestamp, Tool, ToolName};
use crate::store::{
    Change, Decision, DecisionStore, DecisionView, Effect, StoreResult, Verdict, WholeCodes,
};

/// Decisions between two sweeps of expired markers and quota times.
const PRUNE_EVERY: u64 = 1_024;

/// Whether the tool an access request change needs is in the catalog (`true` for other changes).
fn catalogued_tool(
    change: &Change,
    catalogued: &dyn Fn(&ToolName) -> StoreResult<bool>,
) -> StoreResult<bool> {
    match change {
        Change::OpenRequest(r) => catalogued(&r.tool),
        Change::DecideRequest { grant: Some(g), .. }
        | Change::CountApproval { grant: Some(g), .. }
        | Change::BreakGlass { grant: g, .. } => catalogued(&g.tool),
        _ => Ok(true),
    }
}

/// Why an access request change cannot be made at `now`, if it cannot: another open request
/// of the same requester and tool, or a request that is gone, decided or expired.
fn request_check(
    conn: &Connection,
    change: &Change,
    now: Timestamp,
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
        Change::CountApproval { id, seen, .. } => Ok(match request_on(conn, id.as_str())? {
            None => Some(Verdict::NoRequest),
            Some(r) if r.state != RequestState::Open => Some(Verdict::Decided),
            Some(r) if !r.is_open(now) => Some(Verdict::RequestExpired),
            Some(r) if r.approvals.len() != *seen => Some(Verdict::Stale),
            Some(_) => None,
        }),
        _ => Ok(None),
    }
}

/// Runs one decision on the writer's connection: checks first, then writes. Returns the
/// verdict and whether its writes are to be kept.
fn run(conn: &Connection, d: &Decision, sealed: Option<&Sealed>) -> StoreResult<(Verdict, bool)> {
    if let Some(verdict) = refusal(conn, d)? {
        return Ok((verdict, false));
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

/// Why `d` is refused, if it is, checked in order: its replay marker, its effect, its rate
/// limits. The marker and the limits are taken as they are checked; a refusal rolls them back.
fn refusal(conn: &Connection, d: &Decision) -> StoreResult<Option<Verdict>> {
    if !replay_marked(conn, d)? {
        return Ok(Some(Verdict::Replay));
    }
    if let Some(verdict) = effect_refusal(conn, d)? {
        return Ok(Some(verdict));
    }
    Ok(full_quota(conn, d)?.map(Verdict::Limited))
}

/// Takes the replay marker of `d`; `false` when a live one was there (a replay).
pub(super) fn replay_marked(conn: &Connection, d: &Decision) -> StoreResult<bool> {
    match &d.replay {
        Some(m) => mark(conn, &m.key, m.expires_at, d.now),
        None => Ok(true),
    }
}

/// Takes the rate limits of `d` in order; the index of the first full one, if one is.
pub(super) fn full_quota(conn: &Connection, d: &Decision) -> StoreResult<Option<usize>> {
    for (index, quota) in d.quotas.iter().enumerate() {
        if !take(conn, quota, d.now)? {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// The catalog entry of `tool` and the grant `principal` holds for it at `now`, or why a code
/// cannot be had: a tool not (or no longer) in the catalog, a grant gone or expired (with what
/// was read, for the refusal's words).
pub(super) fn issue_check(
    conn: &Connection,
    principal: &Principal,
    tool: &ToolName,
    now: Timestamp,
) -> StoreResult<Result<(Tool, Grant), (Verdict, DecisionView)>> {
    let Some(entry) = tool_on(conn, tool.as_str())? else {
        return Ok(Err((Verdict::UnknownTool, DecisionView::default())));
    };
    match grant_on(conn, principal.as_str(), tool.as_str())? {
        Some(grant) if grant.is_active(now) => Ok(Ok((entry, grant))),
        grant => {
            let verdict = grant
                .as_ref()
                .map_or(Verdict::NoGrant, |g| Verdict::Expired(g.expires_at));
            let view = DecisionView {
                tool: Some(entry),
                grant,
                logs: Vec::new(),
            };
            Ok(Err((verdict, view)))
        }
    }
}

/// Why the effect of `d` cannot be had at its time, if it cannot: a tool not (or no longer) in
/// the catalog, an access request that cannot change, or a grant that is gone or expired.
fn effect_refusal(conn: &Connection, d: &Decision) -> StoreResult<Option<Verdict>> {
    let catalogued = |tool: &ToolName| -> StoreResult<bool> {
        let mut stmt = conn
            .prepare_cached("SELECT 1 FROM tools WHERE name = ?1")
            .map_err(backend)?;
        stmt.exists([tool.as_str()]).map_err(backend)
    };
    match &d.effect {
        Effect::Record => Ok(None),
        Effect::Change { change, .. } => {
            if let Change::PutGrant(g) = change {
                if !catalogued(&g.tool)? {
                    return Ok(Some(Verdict::UnknownTool));
                }
            }
            if let Some(verdict) = request_check(conn, change, d.now)? {
                return Ok(Some(verdict));
            }
            if let Some(verdict) = glass_check(conn, change, d.now)? {
                return Ok(Some(verdict));
            }
            Ok((!catalogued_tool(change, &catalogued)?).then_some(Verdict::UnknownTool))
        }
        Effect::Issue { principal, tool } => Ok(issue_check(conn, principal, tool, d.now)?
            .err()
            .map(|(verdict, _)| verdict)),
    }
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
            let (tool, grant) = match &tool {
                Some(t) => (tool_on(c, t)?, grant_on(c, &principal, t)?),
                None => (None, None),
            };
            let logs = quotas
                .iter()
                .map(|q| quota_log(c, q))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(DecisionView { tool, grant, logs })
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
        let sweep = self.sweep_due();
        self.write(move |c| {
            if sweep {
                prune(c, decision.now)?;
            }
            run(c, &decision, sealed.as_ref())
        })
        .await
    }

    /// The decision reads each ring in its own transaction, so a view's logs would be read for
    /// nothing: at 64 clients they were a seventh of a code's CPU (`docs/performance.md`).
    fn decides_from_view_logs(&self) -> bool {
        false
    }

    /// A code is decided whole on the writer (see `whole_code.rs`).
    fn whole_codes(&self) -> Option<&dyn WholeCodes> {
        Some(self)
    }
}

impl LocalStore {
    /// Whether the decision about to be made sweeps expired markers and rings first: one in
    /// every [`PRUNE_EVERY`].
    pub(super) fn sweep_due(&self) -> bool {
        self.decisions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == 0
    }
}
