//! Decisions in DynamoDB: the reads a decision needs in one `BatchGetItem`, and the decision
//! itself in one `TransactWriteItems`: a `ConditionCheck` that the grant exists and is unexpired
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
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::access::{grant_from, principal_pk, TOOLS_PK};
use super::item::{get_n, s, Item};
use super::plan::{built, key_of, quota_pk, Part};
use super::schema::{ACCESS_PK, ACCESS_SK};
use super::{sdk, AwsStore};
use crate::domain::{Grant, Principal, Quota, QuotaLog, ToolName};
use crate::store::{
    Change, Decision, DecisionStore, DecisionView, Effect, StoreError, StoreResult, Verdict,
};

/// Attempts before a decision that keeps meeting concurrent writers gives up.
const ATTEMPTS: usize = 64;

fn log_from(item: Option<&Item>) -> StoreResult<QuotaLog> {
    let Some(item) = item else {
        return Ok(QuotaLog::default());
    };
    let times = match item.get("times") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|v| v.as_n().ok()?.parse().ok())
            .collect(),
        _ => Vec::new(),
    };
    Ok(QuotaLog {
        times,
        version: get_n(item, "ver")?,
        nth_newest: None,
    })
}

impl AwsStore {
    /// `BatchGetItem` of `keys` on the access table, following `UnprocessedKeys`.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let table = self.settings.access_table.clone();
        let mut request = built(
            "batch keys",
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build(),
        )?;
        for _ in 0..ATTEMPTS {
            let out = self
                .ddb
                .batch_get_item()
                .request_items(&table, request)
                .send()
                .await
                .map_err(|e| sdk("batch get", e))?;
            if let Some(items) = out.responses.as_ref().and_then(|r| r.get(&table)) {
                found.extend(items.iter().cloned());
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&table)) {
                Some(rest) if !rest.keys.is_empty() => request = rest,
                _ => return Ok(found),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Err(StoreError::Backend(
            "batch get kept leaving keys unprocessed".into(),
        ))
    }

    /// The logs of `quotas`, in order.
    async fn logs(&self, quotas: &[Quota]) -> StoreResult<Vec<QuotaLog>> {
        let keys = quotas
            .iter()
            .map(|q| key_of(quota_pk(&q.key), "Q"))
            .collect();
        let items = self.batch_get(keys).await?;
        quotas
            .iter()
            .map(|q| {
                let pk = quota_pk(&q.key);
                log_from(items.iter().find(|i| i.get(ACCESS_PK) == Some(&s(&pk))))
            })
            .collect()
    }

    /// Why the grant check failed: gone, or expired.
    async fn grant_refusal(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Verdict> {
        let items = self
            .batch_get(vec![key_of(principal_pk(principal), &format!("G#{tool}"))])
            .await?;
        Ok(match items.first().map(grant_from).transpose()? {
            Some(g) => Verdict::Expired(g.expires_at),
            None => Verdict::NoGrant,
        })
    }
}

#[async_trait]
impl DecisionStore for AwsStore {
    async fn view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView> {
        let mut keys: Vec<Item> = quotas
            .iter()
            .map(|q| key_of(quota_pk(&q.key), "Q"))
            .collect();
        let grant_pk = principal_pk(principal);
        if let Some(tool) = tool {
            keys.push(key_of(grant_pk.clone(), &format!("G#{tool}")));
        }
        let items = self.batch_get(keys).await?;
        let find = |pk: &str, sk: &str| {
            items
                .iter()
                .find(|i| i.get(ACCESS_PK) == Some(&s(pk)) && i.get(ACCESS_SK) == Some(&s(sk)))
        };
        let grant = match tool {
            Some(tool) => find(&grant_pk, &format!("G#{tool}"))
                .map(grant_from)
                .transpose()?,
            None => None,
        };
        let logs = quotas
            .iter()
            .map(|q| log_from(find(&quota_pk(&q.key), "Q")))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(DecisionView { grant, logs })
    }

    async fn decide(&self, view: &DecisionView, d: &Decision) -> StoreResult<Verdict> {
        let prepared = self.prepare_change(d).await?;
        let outcome = self.commit(view, d, &prepared).await;
        // A new tool's seed was written to SSM before the transaction; if the tool did not
        // make it into the catalog, its parameter goes too (a replaced seed stays: the catalog
        // still pins the version codes come from).
        if let Some(tool) = &prepared.new_parameter {
            if !matches!(outcome, Ok(Verdict::Done { .. })) {
                if let Err(e) = crate::store::SecretStore::delete_seed(self, tool).await {
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
            for (i, (quota, log)) in d.quotas.iter().zip(&logs).enumerate() {
                if !log.admits(quota.limit, d.now) {
                    return Ok(Verdict::Limited(i));
                }
            }
            let planned = self.plan(d, &logs, unchanged, seed_version, removed_grants)?;
            let (items, parts): (Vec<_>, Vec<_>) = planned.into_iter().unzip();
            if items.is_empty() {
                return Ok(Verdict::Done { changed: false });
            }
            let result = self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    self.after_change(d, unchanged).await;
                    return Ok(Verdict::Done {
                        changed: !unchanged,
                    });
                }
                Err(e) => e,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(sdk("transact write", err)),
            };
            let mut stale = false;
            let mut replan = false;
            for (part, reason) in parts.iter().zip(&reasons) {
                let code = reason.code().unwrap_or("None");
                match (part, code) {
                    (_, "None") => {}
                    (Part::Replay, "ConditionalCheckFailed") => return Ok(Verdict::Replay),
                    (Part::Tool, "ConditionalCheckFailed") => return Ok(Verdict::UnknownTool),
                    (Part::Grant, "ConditionalCheckFailed") => {
                        if let Effect::Issue { principal, tool } = &d.effect {
                            return self.grant_refusal(principal, tool).await;
                        }
                    }
                    (Part::Pending, "ConditionalCheckFailed") => return Ok(Verdict::Pending),
                    (Part::Request, "ConditionalCheckFailed") => {
                        if let Effect::Change {
                            change: Change::DecideRequest { id, .. },
                            ..
                        } = &d.effect
                        {
                            return self.request_refusal(id, d.now).await;
                        }
                    }
                    (Part::Quota, "ConditionalCheckFailed") => stale = true,
                    (Part::Change, "ConditionalCheckFailed") => unchanged = true,
                    // The grant an approval would keep changed meanwhile: plan it with the grant.
                    (Part::Kept, "ConditionalCheckFailed") => {
                        unchanged = false;
                        replan = true;
                    }
                    (_, "TransactionConflict") => stale = true,
                    (_, other) => {
                        return Err(StoreError::Backend(format!(
                            "transaction cancelled: {other}: {}",
                            reason.message().unwrap_or_default()
                        )))
                    }
                }
            }
            if stale {
                logs = self.logs(&d.quotas).await?;
                let pause = 2 + (rand::random::<u64>() % 8) * (attempt as u64 % 4 + 1);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            } else if !(unchanged || replan) {
                let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
                return Err(StoreError::Backend(format!(
                    "transaction cancelled without a known reason: {}",
                    codes.join(", ")
                )));
            }
        }
        Err(StoreError::Backend(
            "the decision kept meeting concurrent writers".into(),
        ))
    }
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
                let mut grants = crate::store::AccessStore::holders(self, name).await?;
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
