//! The items of a decision's `TransactWriteItems`, in order, each tagged with what it is so
//! the transaction's cancellation reasons can be read back (see [`super::decide`]).

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};

use super::access::{approver_item, grant_item, principal_pk, role_item, tool_item, TOOLS_PK};
use super::audit::event_item;
use super::item::{n, s, Item, ItemBuilder};
use super::requests::approver_sk;
use super::schema::{ACCESS_PK, ACCESS_SK, AUDIT_SK, TTL_ATTRIBUTE};
use super::AwsStore;
use crate::domain::{AuditEvent, Grant, QuotaLog};
use crate::store::{Change, Decision, Effect, StoreError, StoreResult};

pub(super) fn quota_pk(key: &str) -> String {
    format!("Q#{key}")
}

pub(super) fn key_of(pk: String, sk: &str) -> Item {
    ItemBuilder::default()
        .set(ACCESS_PK, s(pk))
        .set(ACCESS_SK, s(sk))
        .build()
}

pub(super) fn built<T>(
    what: &str,
    r: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> StoreResult<T> {
    r.map_err(|e| StoreError::Backend(format!("{what}: {e}")))
}

/// A put of `item` that only succeeds where no live item holds its key: none, or one whose
/// `until` attribute (Unix seconds) is at or before `now`. Replay markers and open-request
/// slots are both such leases.
pub(super) fn put_unless_live(
    what: &str,
    table: &str,
    item: Item,
    until: &str,
    now: i64,
) -> StoreResult<Put> {
    built(
        what,
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #until <= :now")
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#until", until)
            .expression_attribute_values(":now", n(now))
            .build(),
    )
}

/// What one transaction item is, so its cancellation reason can be read.
pub(super) enum Part {
    Replay,
    Tool,
    Grant,
    Quota,
    /// A change item whose condition says "there was something to do".
    Change,
    /// The requester's slot for a new access request: another one is open.
    Pending,
    /// The access request being decided: gone, decided or expired.
    Request,
    /// The check that the grant an approval keeps still ends at or after the approval's.
    Kept,
    Other,
}

impl AwsStore {
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
    pub(super) fn plan(
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
            let put = put_unless_live("replay put", access, item, TTL_ATTRIBUTE, now)?;
            items.push((TransactWriteItem::builder().put(put).build(), Part::Replay));
        }
        let granted_tool = match &d.effect {
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
                change: Change::DecideRequest { grant: Some(g), .. },
                ..
            } => Some(&g.tool),
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

    /// What a change that found nothing to do still commits: an approval that keeps a longer
    /// grant still decides its request, on condition that the grant still ends at or after the
    /// approval's (else the decision is planned again with the grant).
    fn unchanged_items(
        &self,
        change: &Change,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let Change::DecideRequest {
            id,
            requester,
            tool,
            by,
            grant: Some(g),
        } = change
        else {
            return Ok(Vec::new());
        };
        let mut items = self.decide_request_items(id, requester, tool, by, true, now)?;
        let check = built(
            "kept grant check",
            ConditionCheck::builder()
                .table_name(&self.settings.access_table)
                .set_key(Some(key_of(
                    principal_pk(&g.principal),
                    &format!("G#{}", g.tool),
                )))
                .condition_expression("attribute_exists(#pk) AND #exp >= :until")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":until", n(g.expires_at.unix()))
                .build(),
        )?;
        items.push((
            TransactWriteItem::builder().condition_check(check).build(),
            Part::Kept,
        ));
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
        now: i64,
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
            Change::SetApprover {
                principal,
                tool,
                on: true,
            } => {
                let item = approver_item(principal, tool);
                let put = built(
                    "approver put",
                    Put::builder()
                        .table_name(access)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(#pk)")
                        .expression_attribute_names("#pk", ACCESS_PK)
                        .build(),
                )?;
                vec![(TransactWriteItem::builder().put(put).build(), Part::Change)]
            }
            Change::SetApprover {
                principal,
                tool,
                on: false,
            } => vec![delete(
                key_of(principal_pk(principal), &approver_sk(tool)),
                true,
            )?],
            Change::OpenRequest(r) => self.open_request_items(r, now)?,
            Change::DecideRequest {
                id,
                requester,
                tool,
                by,
                grant,
            } => {
                let mut items =
                    self.decide_request_items(id, requester, tool, by, grant.is_some(), now)?;
                if let Some(g) = grant {
                    // Stored unless a grant that ends later is there: an approval never
                    // shortens one. A failed condition plans the decision without it.
                    let put = built(
                        "grant put",
                        Put::builder()
                            .table_name(access)
                            .set_item(Some(grant_item(g)))
                            .condition_expression("attribute_not_exists(#pk) OR #exp < :until")
                            .expression_attribute_names("#pk", ACCESS_PK)
                            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                            .expression_attribute_values(":until", n(g.expires_at.unix()))
                            .build(),
                    )?;
                    items.push((TransactWriteItem::builder().put(put).build(), Part::Change));
                }
                items
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
}
