//! The items of a decision's `TransactWriteItems`, in order, each tagged with what it is so
//! the transaction's cancellation reasons can be read back (see [`super::decide`]): the replay
//! marker, the checks of the tool and the grant, the rate limits, the change (see
//! [`super::plan_change`]) and the audit record.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use super::audit_table::event_item;
use super::handle::AwsStore;
use super::item::{key_of, n, s, Item, ItemBuilder};
use super::key_layout::{counter_pk, principal_pk, quota_pk, TOOLS_PK};
use super::schema::{ACCESS_PK, ACCESS_SK, AUDIT_SK, TTL_ATTRIBUTE};
use super::sdk_error::built;
use super::transaction::{put_unless_live, Part};
use crate::domain::{AuditEvent, Grant, Principal, Quota, QuotaLog, Timestamp, ToolName};
use crate::store::{Change, Decision, Effect, ReplayMark, StoreResult};

/// The items of one planned decision, each with what it is.
pub(super) type Planned = Vec<(TransactWriteItem, Part)>;

impl AwsStore {
    /// The transaction items of `d`, each with what it is. `unchanged` drops the change.
    pub(super) fn plan(
        &self,
        d: &Decision,
        logs: &[QuotaLog],
        unchanged: bool,
        seed_version: Option<i64>,
        removed_grants: &[Grant],
    ) -> StoreResult<Planned> {
        let now = d.now.unix();
        let mut items = Vec::new();
        if let Some(mark) = &d.replay {
            items.push(self.replay_put(mark, now)?);
        }
        if let Some(tool) = granted_tool(d, unchanged) {
            items.push(self.tool_check(tool)?);
        }
        if let Effect::Issue { principal, tool } = &d.effect {
            items.push(self.grant_check(principal, tool, now)?);
        }
        for (quota, log) in d.quotas.iter().zip(logs) {
            items.push(self.quota_put(quota, log, d.now)?);
        }
        let mut record = d.record.as_ref();
        if let Effect::Change {
            change,
            if_unchanged,
        } = &d.effect
        {
            if unchanged {
                record = if_unchanged.as_ref();
                items.extend(self.unchanged_items(change, now)?);
            } else {
                items.extend(self.change_items(change, now, seed_version, removed_grants)?);
            }
        }
        if let Some(event) = record {
            items.push((self.audit_put(event)?, Part::Other));
        }
        Ok(items)
    }

    /// The replay marker, unless a live one holds its key.
    fn replay_put(&self, mark: &ReplayMark, now: i64) -> StoreResult<(TransactWriteItem, Part)> {
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(counter_pk(&mark.key)))
            .set(ACCESS_SK, s("C"))
            .set("value", n(1))
            .set(TTL_ATTRIBUTE, n(mark.expires_at.unix()))
            .build();
        let access = self.settings.access_table.as_str();
        let put = put_unless_live("replay put", access, item, TTL_ATTRIBUTE, now)?;
        Ok((TransactWriteItem::builder().put(put).build(), Part::Replay))
    }

    /// The check that `tool` is in the catalog.
    fn tool_check(&self, tool: &ToolName) -> StoreResult<(TransactWriteItem, Part)> {
        let check = built(
            "tool check",
            ConditionCheck::builder()
                .table_name(&self.settings.access_table)
                .set_key(Some(key_of(TOOLS_PK.into(), &format!("T#{tool}"))))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", ACCESS_PK)
                .build(),
        )?;
        let item = TransactWriteItem::builder().condition_check(check).build();
        Ok((item, Part::Tool))
    }

    /// The check that the grant of `principal` for `tool` exists and is unexpired at `now`.
    fn grant_check(
        &self,
        principal: &Principal,
        tool: &ToolName,
        now: i64,
    ) -> StoreResult<(TransactWriteItem, Part)> {
        let check = built(
            "grant check",
            ConditionCheck::builder()
                .table_name(&self.settings.access_table)
                .set_key(Some(key_of(principal_pk(principal), &format!("G#{tool}"))))
                .condition_expression("attribute_exists(#pk) AND #exp > :now")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        let item = TransactWriteItem::builder().condition_check(check).build();
        Ok((item, Part::Grant))
    }

    /// The log of `quota` with the admission at `now`, conditioned on the version it was read
    /// at (`log`).
    fn quota_put(
        &self,
        quota: &Quota,
        log: &QuotaLog,
        now: Timestamp,
    ) -> StoreResult<(TransactWriteItem, Part)> {
        let next = log.admitted(quota.limit, now);
        let times = next.times.iter().map(|t| n(*t)).collect();
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(quota_pk(&quota.key)))
            .set(ACCESS_SK, s("Q"))
            .set("times", AttributeValue::L(times))
            .set("ver", n(next.version))
            .set(
                TTL_ATTRIBUTE,
                n(now.unix().saturating_add(quota.limit.window_secs.max(1))),
            )
            .build();
        let mut put = Put::builder()
            .table_name(&self.settings.access_table)
            .set_item(Some(item));
        put = if log.version == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", ACCESS_PK)
        } else {
            put.condition_expression("#ver = :ver")
                .expression_attribute_names("#ver", "ver")
                .expression_attribute_values(":ver", n(log.version))
        };
        let put = built("quota put", put.build())?;
        Ok((TransactWriteItem::builder().put(put).build(), Part::Quota))
    }

    /// The audit record, written once (`attribute_not_exists`).
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

    /// A put of `item` in the access table, unconditioned.
    pub(super) fn put(&self, item: Item) -> StoreResult<TransactWriteItem> {
        let put = built(
            "put",
            Put::builder()
                .table_name(&self.settings.access_table)
                .set_item(Some(item))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The tool `d` needs in the catalog when it commits: the tool of a code, of a new grant
/// (unless `unchanged` drops it), or of an access request.
fn granted_tool(d: &Decision, unchanged: bool) -> Option<&ToolName> {
    match &d.effect {
        Effect::Issue { tool, .. } => Some(tool),
        Effect::Change {
            change: Change::PutGrant(g),
            ..
        } if !unchanged => Some(&g.tool),
        Effect::Change {
            change: Change::OpenRequest(r),
            ..
        } => Some(&r.tool),
        Effect::Change {
            change:
                Change::DecideRequest { grant: Some(g), .. }
                | Change::CountApproval { grant: Some(g), .. }
                | Change::BreakGlass { grant: g, .. },
            ..
        } => Some(&g.tool),
        _ => None,
    }
}
