//! A code decided whole in one writer job ([`WholeCodes`]): the replay marker, the catalog
//! entry, the caller's grant, both rate limits, then the seed, the code and its record, all in
//! the writer's transaction and from the pages it holds. A code read for first (the view, then
//! the seed, each on a read connection) paid two read transactions whose pages every commit had
//! emptied (`docs/performance.md`, "A code decided in the writer").

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;

use super::audit_rows::insert_event;
use super::counters::prune;
use super::decide::{full_quota, issue_check, replay_marked};
use super::handle::LocalStore;
use super::opened_seeds::OpenedSeeds;
use super::sql::backend;
use crate::store::{
    CodeAsk, CodeOutcome, DecisionView, Effect, StoreError, StoreResult, Verdict, WholeCodes,
};

#[async_trait]
impl WholeCodes for LocalStore {
    async fn issue_whole(&self, ask: CodeAsk) -> StoreResult<CodeOutcome> {
        let sweep = self.sweep_due();
        let seeds = Arc::clone(&self.seeds);
        self.write(move |c| {
            if sweep {
                prune(c, ask.decision.now)?;
            }
            decide_code(c, ask, &seeds)
        })
        .await
    }
}

/// Decides `ask` on the writer's connection: every check first, the seed last. Returns the
/// outcome and whether its writes are to be kept.
fn decide_code(
    conn: &Connection,
    ask: CodeAsk,
    seeds: &OpenedSeeds,
) -> StoreResult<(CodeOutcome, bool)> {
    let CodeAsk { decision, complete } = ask;
    let refused = |verdict, view| Ok((CodeOutcome::Refused { verdict, view }, false));
    let Effect::Issue { principal, tool } = &decision.effect else {
        return Err(backend("a whole code was asked for without an issuance"));
    };
    if !replay_marked(conn, &decision)? {
        return refused(Verdict::Replay, DecisionView::default());
    }
    let (entry, grant) = match issue_check(conn, principal, tool, decision.now)? {
        Ok(held) => held,
        Err((verdict, view)) => return refused(verdict, view),
    };
    if let Some(index) = full_quota(conn, &decision)? {
        let view = DecisionView {
            tool: Some(entry),
            grant: Some(grant),
            logs: Vec::new(),
        };
        return refused(Verdict::Limited(index), view);
    }
    let Some(mut record) = decision.record else {
        return Err(backend("a code was asked for without its record"));
    };
    // Authorized and within the limits: only now is the seed read (SPEC §3.4).
    let issue = seeds
        .issue(conn, tool, decision.now)?
        .ok_or_else(|| StoreError::Corrupt(format!("tool {tool} has no seed")))?;
    complete(&issue, &mut record);
    insert_event(conn, &record)?;
    let issued = CodeOutcome::Issued {
        tool: entry,
        grant,
        issue,
    };
    Ok((issued, true))
}
