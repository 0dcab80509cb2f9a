//! Decisions in DynamoDB ([`DecisionStore`]): the reads a decision needs in one `BatchGetItem`
//! (see [`super::decision_reads`]), and the decision itself in one `TransactWriteItems`: a `ConditionCheck` that the grant exists and is unexpired
//! at the decision time, the replay marker `Put` (absent or expired), each rate-limit log `Put`
//! conditioned on the version it was read at, the access change, and the audit `Put`
//! (`attribute_not_exists`). All of it commits, or none of it.
//!
//! A cancelled transaction is read from its cancellation reasons, which DynamoDB lists in the
//! order of the request's items, with a null (`None`) code for items that did not fail
//! (API reference, `CancellationReason`:
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html>):
//! the replay marker → a replay; the tool check (the catalog entry of the tool a code or a new
//! grant is for) → unknown tool; the grant check → no grant or expired; a rate-limit log → it
//! changed since it was read, so it is read again and the decision retried (or refused if now
//! full); a delete or an add that found nothing to do → the "unchanged" record instead.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::decision_reads::ATTEMPTS;
use super::handle::AwsStore;
use super::key_layout::TOOLS_PK;
use super::sdk_error::sdk;
use super::transaction::Part;
use crate::domain::{AccessRequestId, BreakGlass, Grant, Principal, Quota, QuotaLog, ToolName};
use crate::store::{
    AccessStore, Change, Decision, DecisionStore, DecisionView, Effect, SecretStore, StoreError,
    StoreResult, Verdict,
};

#[async_trait]
impl DecisionStore for AwsStore {
    async fn view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView> {
        self.read_view(principal, tool, quotas).await
    }

    async fn decide(&self, view: &DecisionView, d: &Decision) -> StoreResult<Verdict> {
        let prepared = self.prepare_change(d).await?;
        let outcome = self.commit(view, d, &prepared).await;
        // A new tool's seed was written to SSM before the transaction; if the tool did not
        // make it into the catalog, its parameter goes too (a replaced seed stays: the catalog
        // still pins the version codes come from).
        if let Some(tool) = &prepared.new_parameter {
            if !matches!(outcome, Ok(Verdict::Done { .. })) {
                if let Err(e) = SecretStore::delete_seed(self, tool).await {
                    tracing::error!(error = %e, %tool, "the seed of a tool not added is still in SSM");
                }
            }
        }
        outcome
    }
}

/// What a change needs before its transaction.
struct Prepared {
    /// The SSM version of the new seed written for it.
    seed_version: Option<i64>,
    /// The grants that go with a removed tool.
    removed_grants: Vec<Grant>,
    /// The tool whose seed parameter this change created (it was not in the catalog).
    new_parameter: Option<ToolName>,
}

impl AwsStore {
    /// Commits `d` in one `TransactWriteItems`, reading its cancellation reasons and retrying
    /// on concurrent writers (see the module documentation).
    async fn commit(
        &self,
        view: &DecisionView,
        d: &Decision,
        prepared: &Prepared,
    ) -> StoreResult<Verdict> {
        let (seed_version, removed_grants) = (prepared.seed_version, &prepared.removed_grants);
        let mut logs = if view.logs.len() == d.quotas.len() {
            view.logs.clone()
        } else {
            self.logs(&d.quotas).await?
        };
        let mut unchanged = false;
        for attempt in 0..ATTEMPTS {
            if let Some(i) = first_full(d, &logs) {
                return Ok(Verdict::Limited(i));
            }
            let planned = self.plan(d, &logs, unchanged, seed_version, removed_grants)?;
            let (items, parts): (Vec<_>, Vec<_>) = planned.into_iter().unzip();
            if items.is_empty() {
                return Ok(Verdict::Done { changed: false });
            }
            let Some(reasons) = self.transact(items).await? else {
                self.after_change(d, unchanged).await;
                return Ok(Verdict::Done {
                    changed: !unchanged,
                });
            };
            match read_reasons(d, &parts, &reasons, unchanged)? {
                Reading::Verdict(verdict) => return Ok(verdict),
                Reading::NoGrant(principal, tool) => {
                    return self.grant_refusal(principal, tool).await
                }
                Reading::NoRequest(id) => return self.request_refusal(id, d.now).await,
                Reading::Approvals(id) => return self.approval_refusal(id, d.now).await,
                Reading::TooSoon(glass) => return self.too_soon(glass).await,
                Reading::Reviewed(id) => return self.review_refusal(id).await,
                Reading::Again {
                    stale,
                    unchanged: next,
                } => {
                    unchanged = next;
                    if stale {
                        logs = self.logs(&d.quotas).await?;
                        back_off(attempt).await;
                    }
                }
            }
        }
        Err(StoreError::Backend(
            "the decision kept meeting concurrent writers".into(),
        ))
    }
}

impl AwsStore {
    /// Runs one `TransactWriteItems` of `items`: `None` if it committed, else the cancellation
    /// reasons DynamoDB gave, one per item in order.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Option<Vec<CancellationReason>>> {
        let result = self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    Ok(Some(c.cancellation_reasons().to_vec()))
                }
                _ => Err(sdk("transact write", err)),
            },
        }
    }
}

/// The index of the first of `d`'s rate limits that `logs` say is full at its time.
fn first_full(d: &Decision, logs: &[QuotaLog]) -> Option<usize> {
    d.quotas
        .iter()
        .zip(logs)
        .position(|(quota, log)| !log.admits(quota.limit, d.now))
}

/// A short random pause before attempt `attempt + 1`, longer as attempts go on, so that
/// writers that met each other do not meet again.
async fn back_off(attempt: usize) {
    let pause = 2 + (rand::random::<u64>() % 8) * (attempt as u64 % 4 + 1);
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

/// What the cancellation reasons of one attempt say.
enum Reading<'a> {
    /// The decision is refused so.
    Verdict(Verdict),
    /// The grant check failed: the grant is gone or expired.
    NoGrant(&'a Principal, &'a ToolName),
    /// The request could not be decided: gone, decided or expired.
    NoRequest(&'a AccessRequestId),
    /// An approval could not be counted: the request is gone, decided, expired or changed.
    Approvals(&'a AccessRequestId),
    /// The person broke the glass on the tool within the period.
    TooSoon(&'a BreakGlass),
    /// The break-glass could not be reviewed: gone, or reviewed already.
    Reviewed(&'a AccessRequestId),
    /// Plan and try again: with the rate-limit logs read again (`stale`), and with or without
    /// the change (`unchanged`).
    Again {
        /// A rate-limit log changed since it was read, or the transaction met another.
        stale: bool,
        /// The change found nothing to do.
        unchanged: bool,
    },
}

/// Reads the cancellation `reasons` of `d`'s items (`parts`, in the same order) as the module
/// documentation says; `unchanged` is how the attempt was planned.
fn read_reasons<'a>(
    d: &'a Decision,
    parts: &[Part],
    reasons: &[CancellationReason],
    unchanged: bool,
) -> StoreResult<Reading<'a>> {
    let mut next = Next {
        stale: false,
        unchanged,
        replan: false,
    };
    for (part, reason) in parts.iter().zip(reasons) {
        if let Some(reading) = read_reason(d, part, reason, &mut next)? {
            return Ok(reading);
        }
    }
    if !(next.stale || next.unchanged || next.replan) {
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
        return Err(StoreError::Backend(format!(
            "transaction cancelled without a known reason: {}",
            codes.join(", ")
        )));
    }
    Ok(Reading::Again {
        stale: next.stale,
        unchanged: next.unchanged,
    })
}

/// How the next attempt is planned, as the reasons read so far say.
struct Next {
    /// Read the rate-limit logs again first.
    stale: bool,
    /// Plan without the change (it found nothing to do).
    unchanged: bool,
    /// Plan again with the change, which an earlier attempt dropped.
    replan: bool,
}

/// What one item's cancellation `reason` says: the answer, if it decides the decision, else
/// what it changes in how the next attempt is planned.
fn read_reason<'a>(
    d: &'a Decision,
    part: &Part,
    reason: &CancellationReason,
    next: &mut Next,
) -> StoreResult<Option<Reading<'a>>> {
    let refused = |verdict| Ok(Some(Reading::Verdict(verdict)));
    match (part, reason.code().unwrap_or("None")) {
        (_, "None") => {}
        (Part::Replay, "ConditionalCheckFailed") => return refused(Verdict::Replay),
        (Part::Tool, "ConditionalCheckFailed") => return refused(Verdict::UnknownTool),
        (Part::Grant, "ConditionalCheckFailed") => {
            if let Effect::Issue { principal, tool } = &d.effect {
                return Ok(Some(Reading::NoGrant(principal, tool)));
            }
        }
        (Part::Pending, "ConditionalCheckFailed") => return refused(Verdict::Pending),
        (Part::Request, "ConditionalCheckFailed") => {
            if let Effect::Change {
                change: Change::DecideRequest { id, .. },
                ..
            } = &d.effect
            {
                return Ok(Some(Reading::NoRequest(id)));
            }
        }
        (Part::Approvals, "ConditionalCheckFailed") => {
            if let Effect::Change {
                change: Change::CountApproval { id, .. },
                ..
            } = &d.effect
            {
                return Ok(Some(Reading::Approvals(id)));
            }
        }
        (Part::TooSoon, "ConditionalCheckFailed") => {
            if let Effect::Change {
                change: Change::BreakGlass { glass, .. },
                ..
            } = &d.effect
            {
                return Ok(Some(Reading::TooSoon(glass)));
            }
        }
        (Part::Reviewed, "ConditionalCheckFailed") => {
            if let Effect::Change {
                change: Change::ReviewBreakGlass { id, .. },
                ..
            } = &d.effect
            {
                return Ok(Some(Reading::Reviewed(id)));
            }
        }
        (Part::Quota, "ConditionalCheckFailed") => next.stale = true,
        (Part::Change, "ConditionalCheckFailed") => next.unchanged = true,
        // The grant an approval would keep changed meanwhile: plan it with the grant.
        (Part::Kept, "ConditionalCheckFailed") => {
            next.unchanged = false;
            next.replan = true;
        }
        (_, "TransactionConflict") => next.stale = true,
        (_, other) => {
            return Err(StoreError::Backend(format!(
                "transaction cancelled: {other}: {}",
                reason.message().unwrap_or_default()
            )))
        }
    }
    Ok(None)
}

impl AwsStore {
    /// What a change needs before its transaction: the new seed written (versioned) to SSM,
    /// or the grants that go with a removed tool.
    async fn prepare_change(&self, d: &Decision) -> StoreResult<Prepared> {
        let mut prepared = Prepared {
            seed_version: None,
            removed_grants: Vec::new(),
            new_parameter: None,
        };
        match &d.effect {
            Effect::Change {
                change:
                    Change::PutTool {
                        tool,
                        seed: Some(seed),
                    },
                ..
            } => {
                let catalogued = self
                    .get(TOOLS_PK.into(), format!("T#{}", tool.name))
                    .await?
                    .is_some();
                prepared.seed_version = Some(self.write_seed(&tool.name, seed).await?);
                prepared.new_parameter = (!catalogued).then(|| tool.name.clone());
            }
            Effect::Change {
                change: Change::RemoveTool(name),
                ..
            } => {
                let mut grants = AccessStore::holders(self, name).await?;
                // A transaction holds at most 100 items; the rest go right after it.
                grants.truncate(90);
                prepared.removed_grants = grants;
            }
            _ => {}
        }
        Ok(prepared)
    }

    /// Clears caches after a committed change; removes what a removed tool leaves behind.
    async fn after_change(&self, d: &Decision, unchanged: bool) {
        let Effect::Change { change, .. } = &d.effect else {
            return;
        };
        if unchanged {
            return;
        }
        match change {
            Change::PutTool { tool, .. } => self.forget(&tool.name),
            Change::RemoveTool(name) => {
                self.forget(name);
                if let Err(e) = self.clean_removed_tool(name).await {
                    tracing::warn!(error = %e, tool = %name, "cleaning up a removed tool failed");
                }
            }
            _ => {}
        }
    }
}
