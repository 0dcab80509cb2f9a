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
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem,
};

use super::access::{grant_from, grant_item, principal_pk, role_item, tool_item, TOOLS_PK};
use super::audit::event_item;
use super::item::{get_n, n, s, Item, ItemBuilder};
use super::schema::{ACCESS_PK, ACCESS_SK, AUDIT_SK, TTL_ATTRIBUTE};
use super::{sdk, AwsStore};
use crate::domain::{AuditEvent, Grant, Principal, Quota, QuotaLog, ToolName};
use crate::store::{
    Change, Decision, DecisionStore, DecisionView, Effect, StoreError, StoreResult, Verdict,
};

/// Attempts before a decision that keeps meeting concurrent writers gives up.
const ATTEMPTS: usize = 64;

fn quota_pk(key: &str) -> String {
    format!("Q#{key}")
}

fn key_of(pk: String, sk: &str) -> Item {
    ItemBuilder::default()
        .set(ACCESS_PK, s(pk))
        .set(ACCESS_SK, s(sk))
        .build()
}

fn built<T>(what: &str, r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> StoreResult<T> {
    r.map_err(|e| StoreError::Backend(format!("{what}: {e}")))
}

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
    })
}

/// What one transaction item is, so its cancellation reason can be read.
enum Part {
    Replay,
    Tool,
    Grant,
    Quota,
    /// A change item whose condition says "there was something to do".
    Change,
    Other,
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

    fn put(&self, item: Item) -> StoreResult<TransactWriteItem> {
        let put = built(
            "put",
            Put::builder()
                .table_name(&self.settings.access_table)
                .set_item(Some(item))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The transaction items of `d`, each with what it is. `unchanged` drops the change.
    fn plan(
        &self,
        d: &Decision,
        logs: &[QuotaLog],
        unchanged: bool,
        seed_version: Option<i64>,
        removed_grants: &[Grant],
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let now = d.now.unix();
        let mut items = Vec::new();
        if let Some(mark) = &d.replay {
            let item = ItemBuilder::default()
                .set(ACCESS_PK, s(format!("C#{}", mark.key)))
                .set(ACCESS_SK, s("C"))
                .set("value", n(1))
                .set(TTL_ATTRIBUTE, n(mark.expires_at.unix()))
                .build();
            let put = built(
                "replay put",
                Put::builder()
                    .table_name(access)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                    .expression_attribute_names("#pk", ACCESS_PK)
                    .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                    .expression_attribute_values(":now", n(now))
                    .build(),
            )?;
            items.push((TransactWriteItem::builder().put(put).build(), Part::Replay));
        }
        let granted_tool = match &d.effect {
            Effect::Issue { tool, .. } => Some(tool),
            Effect::Change {
                change: Change::PutGrant(g),
                ..
            } if !unchanged => Some(&g.tool),
            _ => None,
        };
        if let Some(tool) = granted_tool {
            let check = built(
                "tool check",
                ConditionCheck::builder()
                    .table_name(access)
                    .set_key(Some(key_of(TOOLS_PK.into(), &format!("T#{tool}"))))
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", ACCESS_PK)
                    .build(),
            )?;
            items.push((
                TransactWriteItem::builder().condition_check(check).build(),
                Part::Tool,
            ));
        }
        if let Effect::Issue { principal, tool } = &d.effect {
            let check = built(
                "grant check",
                ConditionCheck::builder()
                    .table_name(access)
                    .set_key(Some(key_of(principal_pk(principal), &format!("G#{tool}"))))
                    .condition_expression("attribute_exists(#pk) AND #exp > :now")
                    .expression_attribute_names("#pk", ACCESS_PK)
                    .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                    .expression_attribute_values(":now", n(now))
                    .build(),
            )?;
            items.push((
                TransactWriteItem::builder().condition_check(check).build(),
                Part::Grant,
            ));
        }
        for (quota, log) in d.quotas.iter().zip(logs) {
            let next = log.admitted(quota.limit, d.now);
            let item = ItemBuilder::default()
                .set(ACCESS_PK, s(quota_pk(&quota.key)))
                .set(ACCESS_SK, s("Q"))
                .set(
                    "times",
                    AttributeValue::L(next.times.iter().map(|t| n(*t)).collect()),
                )
                .set("ver", n(next.version))
                .set(
                    TTL_ATTRIBUTE,
                    n(now.saturating_add(quota.limit.window_secs.max(1))),
                )
                .build();
            let mut put = Put::builder().table_name(access).set_item(Some(item));
            put = if log.version == 0 {
                put.condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", ACCESS_PK)
            } else {
                put.condition_expression("#ver = :ver")
                    .expression_attribute_names("#ver", "ver")
                    .expression_attribute_values(":ver", n(log.version))
            };
            let put = built("quota put", put.build())?;
            items.push((TransactWriteItem::builder().put(put).build(), Part::Quota));
        }
        let mut record = d.record.as_ref();
        if let Effect::Change {
            change,
            if_unchanged,
        } = &d.effect
        {
            if unchanged {
                record = if_unchanged.as_ref();
            } else {
                items.extend(self.change_items(change, seed_version, removed_grants)?);
            }
        }
        if let Some(event) = record {
            items.push((self.audit_put(event)?, Part::Other));
        }
        Ok(items)
    }

    fn audit_put(&self, event: &AuditEvent) -> StoreResult<TransactWriteItem> {
        let put = built(
            "audit put",
            Put::builder()
                .table_name(&self.settings.audit_table)
                .set_item(Some(event_item(event)))
                .condition_expression("attribute_not_exists(#sk)")
                .expression_attribute_names("#sk", AUDIT_SK)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn change_items(
        &self,
        change: &Change,
        seed_version: Option<i64>,
        removed_grants: &[Grant],
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let delete = |key: Item, conditional: bool| -> StoreResult<(TransactWriteItem, Part)> {
            let mut b = Delete::builder().table_name(access).set_key(Some(key));
            if conditional {
                b = b
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", ACCESS_PK);
            }
            let part = if conditional {
                Part::Change
            } else {
                Part::Other
            };
            Ok((
                TransactWriteItem::builder()
                    .delete(built("delete", b.build())?)
                    .build(),
                part,
            ))
        };
        Ok(match change {
            Change::PutGrant(g) => vec![(self.put(grant_item(g))?, Part::Other)],
            Change::DeleteGrant { principal, tool } => vec![delete(
                key_of(principal_pk(principal), &format!("G#{tool}")),
                true,
            )?],
            Change::SetRole {
                principal,
                role,
                on: true,
            } => {
                let put = built(
                    "role put",
                    Put::builder()
                        .table_name(access)
                        .set_item(Some(role_item(principal, *role)))
                        .condition_expression("attribute_not_exists(#pk)")
                        .expression_attribute_names("#pk", ACCESS_PK)
                        .build(),
                )?;
                vec![(TransactWriteItem::builder().put(put).build(), Part::Change)]
            }
            Change::SetRole {
                principal,
                role,
                on: false,
            } => vec![delete(
                key_of(principal_pk(principal), &format!("R#{role}")),
                true,
            )?],
            Change::PutTool { tool, .. } => {
                vec![(self.put(tool_item(tool, seed_version))?, Part::Other)]
            }
            Change::RemoveTool(name) => {
                let mut items = vec![delete(key_of(TOOLS_PK.into(), &format!("T#{name}")), true)?];
                for g in removed_grants {
                    items.push(delete(
                        key_of(principal_pk(&g.principal), &format!("G#{name}")),
                        false,
                    )?);
                }
                items
            }
        })
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
        let mut logs = if view.logs.len() == d.quotas.len() {
            view.logs.clone()
        } else {
            self.logs(&d.quotas).await?
        };
        let (seed_version, removed_grants) = self.prepare_change(d).await?;
        let mut unchanged = false;
        for attempt in 0..ATTEMPTS {
            for (i, (quota, log)) in d.quotas.iter().zip(&logs).enumerate() {
                if !log.admits(quota.limit, d.now) {
                    return Ok(Verdict::Limited(i));
                }
            }
            let planned = self.plan(d, &logs, unchanged, seed_version, &removed_grants)?;
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
                    (Part::Quota, "ConditionalCheckFailed") => stale = true,
                    (Part::Change, "ConditionalCheckFailed") => unchanged = true,
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
            } else if !unchanged {
                return Err(StoreError::Backend(format!(
                    "transaction cancelled without a known reason: {reasons:?}"
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
    async fn prepare_change(&self, d: &Decision) -> StoreResult<(Option<i64>, Vec<Grant>)> {
        match &d.effect {
            Effect::Change {
                change:
                    Change::PutTool {
                        tool,
                        seed: Some(seed),
                    },
                ..
            } => {
                let version = self.write_seed(&tool.name, seed).await?;
                Ok((Some(version), Vec::new()))
            }
            Effect::Change {
                change: Change::RemoveTool(name),
                ..
            } => {
                let mut grants = crate::store::AccessStore::holders(self, name).await?;
                // A transaction holds at most 100 items; the rest go right after it.
                grants.truncate(90);
                Ok((None, grants))
            }
            _ => Ok((None, Vec::new())),
        }
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
