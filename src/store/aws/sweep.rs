//! The sweep in DynamoDB: its reads ([`SweepStore`]) and the items of its marks and copies in
//! a decision's transaction. Each mark is an `Update` with a `ConditionExpression` on the item
//! itself (the request, or the grant), so of two sweeps only one transaction commits; the
//! other is cancelled ([`Part::Change`]: nothing to do) and writes nothing, its record neither.
//!
//! - An undecided request is indexed for the sweep in the grants-by-tool index under
//!   `gsi1pk = SWEEP#requests` (`gsi1sk = AR#{id}`) from the moment it opens; deciding it, or
//!   telling of its expiry, removes it from there. So the sweep reads the requests still to
//!   watch with one `Query`, never a `Scan`.
//! - Grants ending soon are read per tool from the same index (`gsi1pk = T#{tool}`), filtered
//!   on `expires_at` and on no `warned_at`.
//! - Where copies of a request's approval message were posted is a string set `copies` on
//!   the request's item, added to with `ADD` (`UpdateExpression`, DynamoDB Developer Guide,
//!   "Update expressions":
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html>).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::access_items::grant_from;
use super::handle::AwsStore;
use super::item::{key_of, n, s, Item};
use super::key_layout::{principal_pk, request_pk, SWEEP_REQUESTS};
use super::requests::request_from;
use super::schema::{ACCESS_PK, GRANTS_BY_TOOL, GSI1_PK, TTL_ATTRIBUTE};
use super::sdk_error::built;
use super::transaction::Part;
use crate::domain::{AccessRequestId, Grant, MessageRef, RequestState, SweepMark, Timestamp};
use crate::store::{AccessStore, StoreResult, SweepStore, SweptRequest};

/// Attribute: when a request's approvers were reminded.
const REMINDED_AT: &str = "reminded_at";
/// Attribute: when a request's expiry was told.
const EXPIRY_TOLD_AT: &str = "expiry_told_at";
/// Attribute: when a grant's holder was warned of its end.
const WARNED_AT: &str = "warned_at";
/// Attribute: the string set of a request's message copies.
const COPIES: &str = "copies";

/// The copies a request item holds; unreadable ones are skipped and logged.
fn copies_of(item: &Item) -> Vec<MessageRef> {
    let Some(AttributeValue::Ss(copies)) = item.get(COPIES) else {
        return Vec::new();
    };
    let mut out: Vec<MessageRef> = copies
        .iter()
        .filter_map(|text| {
            let parsed = MessageRef::parse(text);
            if parsed.is_none() {
                tracing::warn!("a stored message copy is unreadable; skipped");
            }
            parsed
        })
        .collect();
    out.sort_by_key(MessageRef::to_stored);
    out
}

impl AwsStore {
    /// The `Update` that makes `mark` at `now`, conditioned on it being still to do.
    pub(super) fn mark_items(
        &self,
        mark: &SweepMark,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let table = self.settings.access_table.as_str();
        let update = match mark {
            SweepMark::Reminded(id) => Update::builder()
                .set_key(Some(key_of(request_pk(id), "AR")))
                .update_expression("SET #at = :now")
                .condition_expression(
                    "attribute_exists(#pk) AND #state = :open AND open_until > :now \
                     AND attribute_not_exists(#at)",
                )
                .expression_attribute_names("#at", REMINDED_AT)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":open", s("open")),
            SweepMark::ExpiryTold(id) => Update::builder()
                .set_key(Some(key_of(request_pk(id), "AR")))
                .update_expression("SET #at = :now REMOVE gsi1pk, gsi1sk")
                .condition_expression(
                    "attribute_exists(#pk) AND #state = :open AND open_until <= :now \
                     AND attribute_not_exists(#at)",
                )
                .expression_attribute_names("#at", EXPIRY_TOLD_AT)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":open", s("open")),
            SweepMark::GrantWarned {
                principal,
                tool,
                expires_at,
            } => Update::builder()
                .set_key(Some(key_of(principal_pk(principal), &format!("G#{tool}"))))
                .update_expression("SET #at = :now")
                .condition_expression(
                    "attribute_exists(#pk) AND #exp = :exp AND #exp > :now \
                     AND attribute_not_exists(#at)",
                )
                .expression_attribute_names("#at", WARNED_AT)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":exp", n(expires_at.unix())),
        };
        let update = built(
            "sweep mark",
            update
                .table_name(table)
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        Ok(vec![(
            TransactWriteItem::builder().update(update).build(),
            Part::Change,
        )])
    }

    /// The `Update` that adds `copies` to request `id` (nothing to do without the request).
    pub(super) fn copies_items(
        &self,
        id: &AccessRequestId,
        copies: &[MessageRef],
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        if copies.is_empty() {
            return Ok(Vec::new());
        }
        let set = AttributeValue::Ss(copies.iter().map(MessageRef::to_stored).collect());
        let update = built(
            "request copies",
            Update::builder()
                .table_name(&self.settings.access_table)
                .set_key(Some(key_of(request_pk(id), "AR")))
                .update_expression("ADD #copies :copies")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#copies", COPIES)
                .expression_attribute_values(":copies", set)
                .build(),
        )?;
        Ok(vec![(
            TransactWriteItem::builder().update(update).build(),
            Part::Change,
        )])
    }

    /// Items of the grants-by-tool index under `pk`.
    async fn indexed(&self, pk: String) -> StoreResult<Vec<Item>> {
        self.query_all(|| {
            self.ddb
                .query()
                .table_name(&self.settings.access_table)
                .index_name(GRANTS_BY_TOOL)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":pk", s(pk.clone()))
        })
        .await
    }
}

#[async_trait]
impl SweepStore for AwsStore {
    async fn undecided_requests(&self, since: Timestamp) -> StoreResult<Vec<SweptRequest>> {
        let mut found = Vec::new();
        for item in self.indexed(SWEEP_REQUESTS.into()).await? {
            let request = request_from(&item)?;
            if request.state != RequestState::Open || request.expires_at <= since {
                continue;
            }
            found.push(SweptRequest {
                reminded: item.contains_key(REMINDED_AT),
                copies: copies_of(&item),
                request,
            });
        }
        found.sort_by(|a, b| {
            (a.request.requested_at, a.request.id.as_str())
                .cmp(&(b.request.requested_at, b.request.id.as_str()))
        });
        Ok(found)
    }

    async fn unwarned_grants(&self, after: Timestamp, until: Timestamp) -> StoreResult<Vec<Grant>> {
        let mut found = Vec::new();
        for tool in AccessStore::tools(self).await? {
            for item in self.indexed(format!("T#{}", tool.name)).await? {
                if item.contains_key(WARNED_AT) {
                    continue;
                }
                let grant = grant_from(&item)?;
                if grant.expires_at > after && grant.expires_at <= until {
                    found.push(grant);
                }
            }
        }
        found.sort_by(|a, b| {
            (a.expires_at, a.principal.as_str(), a.tool.as_str()).cmp(&(
                b.expires_at,
                b.principal.as_str(),
                b.tool.as_str(),
            ))
        });
        Ok(found)
    }

    async fn copies(&self, id: &AccessRequestId) -> StoreResult<Vec<MessageRef>> {
        Ok(self
            .get(request_pk(id), "AR".into())
            .await?
            .as_ref()
            .map(copies_of)
            .unwrap_or_default())
    }
}
