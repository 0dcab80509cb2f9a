//! The approvals of requests that need several (two-person rule) on the request's item in
//! the access table: `approvals`, a list of maps (`by`, `person`, `at`, `for`), and
//! `approvals_count`, their number. Counting one more is an `Update` that appends to the list
//! on condition that the request is open, unexpired and holds exactly the approvals the
//! approver read (`approvals_count = :seen`, or no count yet for none): of two approvers
//! clicking at once, the second transaction is cancelled and its approval read again and
//! decided again, never lost and never counted twice.
//!
//! Update expressions `SET … list_append(if_not_exists(…), …)`: DynamoDB Developer Guide,
//! "Using update expressions in DynamoDB",
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html>;
//! conditions as in [`super::requests`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::handle::AwsStore;
use super::item::{get_n, get_s, key_of, n, opt_s, s, Item};
use super::key_layout::{principal_pk, request_pk, slot_sk};
use super::schema::ACCESS_PK;
use super::sdk_error::built;
use super::transaction::Part;
use crate::domain::{
    AccessRequestId, Approval, GrantDuration, Person, Principal, Timestamp, ToolName,
};
use crate::store::{StoreError, StoreResult};

/// Attribute: the approvals counted so far.
const APPROVALS: &str = "approvals";
/// Attribute: their number.
const COUNT: &str = "approvals_count";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("request approval: {e}"))
}

/// The approvals held by a request's item, oldest first.
pub(super) fn approvals_from(item: &Item) -> StoreResult<Vec<Approval>> {
    let Some(list) = item.get(APPROVALS) else {
        return Ok(Vec::new());
    };
    let list = list.as_l().map_err(|_| corrupt("not a list"))?;
    list.iter()
        .map(|value| {
            let m = value.as_m().map_err(|_| corrupt("not a map"))?;
            Ok(Approval {
                by: Principal::parse(get_s(m, "by")?).map_err(corrupt)?,
                person: Person::parse(get_s(m, "person")?).map_err(corrupt)?,
                at: Timestamp::from_unix(get_n(m, "at")?),
                duration: GrantDuration::from_secs(get_n(m, "for")?)
                    .ok_or_else(|| corrupt("duration"))?,
                name: opt_s(m, "name"),
            })
        })
        .collect()
}

fn approval_value(a: &Approval) -> AttributeValue {
    let mut map = HashMap::from([
        ("by".to_owned(), s(a.by.as_str())),
        ("person".to_owned(), s(a.person.as_str())),
        ("at".to_owned(), n(a.at.unix())),
        ("for".to_owned(), n(a.duration.secs())),
    ]);
    if let Some(name) = &a.name {
        map.insert("name".to_owned(), s(name));
    }
    AttributeValue::M(map)
}

/// What one counted approval decides about its request.
pub(super) struct Counted<'a> {
    /// The request.
    pub id: &'a AccessRequestId,
    /// Its requester (whose slot an approving count frees).
    pub requester: &'a Principal,
    /// Its tool.
    pub tool: &'a ToolName,
    /// The approval.
    pub approval: &'a Approval,
    /// The approvals read before it.
    pub seen: usize,
    /// Whether it completes the count and so approves the request.
    pub approves: bool,
}

impl AwsStore {
    /// The items that count `c.approval` at `now`; the grant of an approving count is planned
    /// by the caller.
    pub(super) fn count_approval_items(
        &self,
        c: &Counted<'_>,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let seen = i64::try_from(c.seen).map_err(corrupt)?;
        let mut set =
            "SET #apps = list_append(if_not_exists(#apps, :none), :new), #cnt = :next".to_owned();
        if c.approves {
            set.push_str(", #state = :approved, decided_by = :by, decided_at = :now");
        }
        let counted = if seen == 0 {
            "attribute_not_exists(#cnt)"
        } else {
            "#cnt = :seen"
        };
        let mut update = Update::builder()
            .table_name(access)
            .set_key(Some(key_of(request_pk(c.id), "AR")))
            .update_expression(set)
            .condition_expression(format!(
                "attribute_exists(#pk) AND #state = :open AND #until > :now AND {counted}"
            ))
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#until", "open_until")
            .expression_attribute_names("#apps", APPROVALS)
            .expression_attribute_names("#cnt", COUNT)
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(
                ":new",
                AttributeValue::L(vec![approval_value(c.approval)]),
            )
            .expression_attribute_values(":next", n(seen + 1));
        if seen != 0 {
            update = update.expression_attribute_values(":seen", n(seen));
        }
        if c.approves {
            update = update
                .expression_attribute_values(":approved", s("approved"))
                .expression_attribute_values(":by", s(c.approval.by.as_str()));
        }
        let update = built("approval update", update.build())?;
        let mut items = vec![(
            TransactWriteItem::builder().update(update).build(),
            Part::Approvals,
        )];
        if c.approves {
            let slot = built(
                "request slot delete",
                Delete::builder()
                    .table_name(access)
                    .set_key(Some(key_of(principal_pk(c.requester), &slot_sk(c.tool))))
                    .build(),
            )?;
            items.push((
                TransactWriteItem::builder().delete(slot).build(),
                Part::Other,
            ));
        }
        Ok(items)
    }
}
