//! The items of a change of access state in a decision's transaction (see [`super::plan`]):
//! puts and deletes conditioned so that a change with nothing to do cancels the transaction
//! ([`Part::Change`]), and the decision is planned again with its "unchanged" record.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem};

use super::access_items::{approver_item, grant_item, role_item, tool_item};
use super::approval_items::Counted;
use super::handle::AwsStore;
use super::item::{key_of, n, Item};
use super::key_layout::{principal_pk, TOOLS_PK};
use super::plan::Planned;
use super::schema::{ACCESS_PK, ACCESS_SK, TTL_ATTRIBUTE};
use super::sdk_error::built;
use super::transaction::{put_new, Part};
use crate::domain::{Grant, ToolName};
use crate::store::{Change, StoreResult};

impl AwsStore {
    /// The items of `change` at `now`: `seed_version` pins a new tool's seed, `removed_grants`
    /// go with a removed tool.
    pub(super) fn change_items(
        &self,
        change: &Change,
        now: i64,
        seed_version: Option<i64>,
        removed_grants: &[Grant],
    ) -> StoreResult<Planned> {
        Ok(match change {
            Change::PutGrant(g) => vec![(self.put(grant_item(g))?, Part::Other)],
            Change::DeleteGrant { principal, tool } => {
                let key = key_of(principal_pk(principal), &format!("G#{tool}"));
                vec![self.delete(key, true)?]
            }
            Change::SetRole {
                principal,
                role,
                on,
            } => vec![self.toggle(*on, role_item(principal, *role), "role put")?],
            Change::PutTool { tool, .. } => {
                vec![(self.put(tool_item(tool, seed_version))?, Part::Other)]
            }
            Change::SetApprover {
                principal,
                tool,
                on,
            } => vec![self.toggle(*on, approver_item(principal, tool), "approver put")?],
            Change::OpenRequest(r) => self.open_request_items(r, now)?,
            Change::DecideRequest {
                id,
                requester,
                tool,
                by,
                by_name,
                grant,
            } => {
                let approved = grant.is_some();
                let by = (by, by_name.as_deref());
                let mut items =
                    self.decide_request_items(id, requester, tool, by, approved, now)?;
                if let Some(g) = grant {
                    items.push(self.approved_grant(g)?);
                }
                items
            }
            Change::CountApproval {
                id,
                requester,
                tool,
                approval,
                seen,
                grant,
            } => {
                let counted = Counted {
                    id,
                    requester,
                    tool,
                    approval,
                    seen: *seen,
                    approves: grant.is_some(),
                };
                let mut items = self.count_approval_items(&counted, now)?;
                if let Some(g) = grant {
                    items.push(self.approved_grant(g)?);
                }
                items
            }
            Change::BreakGlass {
                glass,
                grant,
                every_secs,
            } => self.break_glass_items(glass, grant, *every_secs, now)?,
            Change::ReviewBreakGlass { id, review, revoke } => {
                self.review_items(id, review, revoke.as_ref())?
            }
            Change::RemoveTool(name) => self.remove_tool_items(name, removed_grants)?,
            Change::Mark(mark) => self.mark_items(mark, now)?,
            Change::AddCopies { id, copies } => self.copies_items(id, copies)?,
        })
    }

    /// What a change that found nothing to do still commits: an approval that keeps a longer
    /// grant still decides its request, on condition that the grant still ends at or after the
    /// approval's (else the decision is planned again with the grant).
    pub(super) fn unchanged_items(&self, change: &Change, now: i64) -> StoreResult<Planned> {
        let (mut items, g) = match change {
            Change::DecideRequest {
                id,
                requester,
                tool,
                by,
                by_name,
                grant: Some(g),
            } => (
                self.decide_request_items(
                    id,
                    requester,
                    tool,
                    (by, by_name.as_deref()),
                    true,
                    now,
                )?,
                g,
            ),
            Change::CountApproval {
                id,
                requester,
                tool,
                approval,
                seen,
                grant: Some(g),
            } => {
                let counted = Counted {
                    id,
                    requester,
                    tool,
                    approval,
                    seen: *seen,
                    approves: true,
                };
                (self.count_approval_items(&counted, now)?, g)
            }
            _ => return Ok(Vec::new()),
        };
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

    /// A delete of `key`; when `conditional`, it cancels the transaction if there is no such
    /// item (nothing to do).
    fn delete(&self, key: Item, conditional: bool) -> StoreResult<(TransactWriteItem, Part)> {
        let mut b = Delete::builder()
            .table_name(&self.settings.access_table)
            .set_key(Some(key));
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
        let delete = built("delete", b.build())?;
        Ok((TransactWriteItem::builder().delete(delete).build(), part))
    }

    /// A put (`on`) or a delete of `item`, either cancelling the transaction when there is
    /// nothing to do (see [`AwsStore::add`], [`AwsStore::delete`]).
    fn toggle(&self, on: bool, item: Item, what: &str) -> StoreResult<(TransactWriteItem, Part)> {
        if on {
            return self.add(item, what);
        }
        let key = item
            .into_iter()
            .filter(|(name, _)| name == ACCESS_PK || name == ACCESS_SK)
            .collect();
        self.delete(key, true)
    }

    /// A put of `item` that cancels the transaction if the item is there (nothing to do).
    fn add(&self, item: Item, what: &str) -> StoreResult<(TransactWriteItem, Part)> {
        let put = put_new(what, &self.settings.access_table, item)?;
        Ok((TransactWriteItem::builder().put(put).build(), Part::Change))
    }

    /// The grant an approval makes. Stored unless a grant that ends later is there: an
    /// approval never shortens one. A failed condition plans the decision without it.
    fn approved_grant(&self, g: &Grant) -> StoreResult<(TransactWriteItem, Part)> {
        let put = built(
            "grant put",
            Put::builder()
                .table_name(&self.settings.access_table)
                .set_item(Some(grant_item(g)))
                .condition_expression("attribute_not_exists(#pk) OR #exp < :until")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":until", n(g.expires_at.unix()))
                .build(),
        )?;
        Ok((TransactWriteItem::builder().put(put).build(), Part::Change))
    }

    /// The catalog entry of a removed tool (conditioned: there was one) and the grants that go
    /// with it in the same transaction.
    fn remove_tool_items(&self, name: &ToolName, removed_grants: &[Grant]) -> StoreResult<Planned> {
        let mut items = vec![self.delete(key_of(TOOLS_PK.into(), &format!("T#{name}")), true)?];
        for g in removed_grants {
            let key = key_of(principal_pk(&g.principal), &format!("G#{name}"));
            items.push(self.delete(key, false)?);
        }
        Ok(items)
    }
}
