//! Access requests in the access table: their items in a decision's transaction, and reading
//! one back.
//!
//! - The request: `pk = AR#{id}`, `sk = AR`, with its state. Deciding it is an `Update`
//!   conditioned on `attribute_exists(pk) AND state = :open AND open_until > :now`, so of two
//!   approvers the first transaction wins and the second is cancelled.
//! - The requester's slot for the tool: `pk = P#{requester}`, `sk = AR#{tool}`, holding the open
//!   request's `open_until`. Opening a request is a `Put` of the slot conditioned on
//!   `attribute_not_exists(pk) OR open_until <= :now`: one open request per requester and tool.
//!   Deciding deletes the slot.
//!
//! Condition expressions, comparators and functions (`attribute_exists`,
//! `attribute_not_exists`, `=`, `<=`, `>`, `AND`, `OR`) as in the DynamoDB Developer Guide,
//! "Condition and filter expressions, operators, and functions":
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html>;
//! a cancelled `TransactWriteItems` names the failed item in `CancellationReasons`
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html>).
//! `open_until` is not the table's TTL attribute: a request stays readable after it expires,
//! so a late click is told so.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::access_items::person_from;
use super::approval_items::approvals_from;
use super::handle::AwsStore;
use super::item::{get_n, get_s, key_of, n, opt_s, s, Item, ItemBuilder};
use super::key_layout::{principal_pk, request_pk, slot_sk, SWEEP_REQUESTS};
use super::schema::{ACCESS_PK, ACCESS_SK, GSI1_PK, GSI1_SK};
use super::sdk_error::built;
use super::transaction::{put_new, put_unless_live, Part};
use crate::domain::{
    AccessRequest, AccessRequestId, GrantDuration, Principal, RequestState, Timestamp, ToolName,
    ToolRules,
};
use crate::store::{StoreError, StoreResult, Verdict};

/// Attribute: until when a request (and its requester's slot) is open.
const OPEN_UNTIL: &str = "open_until";
/// Attribute: the request's state (`open`, `approved`, `denied`).
const STATE: &str = "state";
/// Attribute: how many approvals the request needs (absent on items written before: one).
const APPROVALS_REQUIRED: &str = "approvals_required";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("access request: {e}"))
}

/// A request read back from its item.
pub(super) fn request_from(item: &Item) -> StoreResult<AccessRequest> {
    let decider = || -> StoreResult<(Principal, Timestamp)> {
        Ok((
            Principal::parse(get_s(item, "decided_by")?).map_err(corrupt)?,
            Timestamp::from_unix(get_n(item, "decided_at")?),
        ))
    };
    let state = match get_s(item, STATE)? {
        "open" => RequestState::Open,
        "approved" => {
            let (by, at) = decider()?;
            RequestState::Approved { by, at }
        }
        "denied" => {
            let (by, at) = decider()?;
            RequestState::Denied { by, at }
        }
        other => return Err(corrupt(other)),
    };
    let requester = Principal::parse(get_s(item, "requester")?).map_err(corrupt)?;
    Ok(AccessRequest {
        id: AccessRequestId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        requester_person: person_from(item, "requester_person", &requester)?,
        requester,
        tool: ToolName::parse(get_s(item, "tool")?).map_err(corrupt)?,
        duration: GrantDuration::from_secs(get_n(item, "duration")?)
            .ok_or_else(|| corrupt("duration"))?,
        reason: opt_s(item, "reason"),
        requested_at: Timestamp::from_unix(get_n(item, "requested_at")?),
        expires_at: Timestamp::from_unix(get_n(item, OPEN_UNTIL)?),
        state,
        approvals_required: match item.get(APPROVALS_REQUIRED) {
            Some(_) => ToolRules::approvals(get_n(item, APPROVALS_REQUIRED)?)
                .ok_or_else(|| corrupt("approvals required"))?,
            None => 1,
        },
        approvals: approvals_from(item)?,
        requester_name: opt_s(item, "requester_name"),
        decided_by_name: opt_s(item, "decided_by_name"),
    })
}

impl AwsStore {
    /// The items that open `r` at `now`: the requester's slot, then the request.
    pub(super) fn open_request_items(
        &self,
        r: &AccessRequest,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let slot = ItemBuilder::default()
            .set(ACCESS_PK, s(principal_pk(&r.requester)))
            .set(ACCESS_SK, s(slot_sk(&r.tool)))
            .set("request", s(r.id.as_str()))
            .set(OPEN_UNTIL, n(r.expires_at.unix()))
            .build();
        let slot = put_unless_live("request slot put", access, slot, OPEN_UNTIL, now)?;
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(request_pk(&r.id)))
            .set(ACCESS_SK, s("AR"))
            .set("id", s(r.id.as_str()))
            .set("requester", s(r.requester.as_str()))
            .set("requester_person", s(r.requester_person.as_str()))
            .set("tool", s(r.tool.as_str()))
            .set("duration", n(r.duration.secs()))
            .opt("reason", r.reason.as_deref())
            .opt("requester_name", r.requester_name.as_deref())
            .set("requested_at", n(r.requested_at.unix()))
            .set(OPEN_UNTIL, n(r.expires_at.unix()))
            .set(STATE, s("open"))
            .set(GSI1_PK, s(SWEEP_REQUESTS))
            .set(GSI1_SK, s(request_pk(&r.id)))
            .set(APPROVALS_REQUIRED, n(i64::from(r.approvals_required)))
            .build();
        let request = put_new("request put", access, item)?;
        Ok(vec![
            (
                TransactWriteItem::builder().put(slot).build(),
                Part::Pending,
            ),
            (
                TransactWriteItem::builder().put(request).build(),
                Part::Other,
            ),
        ])
    }

    /// The items that decide request `id` at `now` (first decision wins), freeing the
    /// requester's slot. The grant of an approval is planned by the caller.
    pub(super) fn decide_request_items(
        &self,
        id: &AccessRequestId,
        requester: &Principal,
        tool: &ToolName,
        (by, by_name): (&Principal, Option<&str>),
        approved: bool,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let update = built(
            "request update",
            Update::builder()
                .table_name(access)
                .set_key(Some(key_of(request_pk(id), "AR")))
                .update_expression(
                    "SET #state = :state, decided_by = :by, decided_at = :now, \
                     decided_by_name = :name REMOVE gsi1pk, gsi1sk",
                )
                .condition_expression("attribute_exists(#pk) AND #state = :open AND #until > :now")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#until", OPEN_UNTIL)
                .expression_attribute_values(
                    ":state",
                    s(if approved { "approved" } else { "denied" }),
                )
                .expression_attribute_values(":open", s("open"))
                .expression_attribute_values(":by", s(by.as_str()))
                .expression_attribute_values(":name", by_name.map_or(AttributeValue::Null(true), s))
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        let slot = built(
            "request slot delete",
            Delete::builder()
                .table_name(access)
                .set_key(Some(key_of(principal_pk(requester), &slot_sk(tool))))
                .build(),
        )?;
        Ok(vec![
            (
                TransactWriteItem::builder().update(update).build(),
                Part::Request,
            ),
            (
                TransactWriteItem::builder().delete(slot).build(),
                Part::Other,
            ),
        ])
    }

    /// The request `id`, read consistently.
    pub(super) async fn request_item(
        &self,
        id: &AccessRequestId,
    ) -> StoreResult<Option<AccessRequest>> {
        self.get(request_pk(id), "AR".into())
            .await?
            .as_ref()
            .map(request_from)
            .transpose()
    }

    /// Why counting an approval of request `id` at `now` was refused: gone, decided,
    /// expired, or (while it is open) another approval was counted first.
    pub(super) async fn approval_refusal(
        &self,
        id: &AccessRequestId,
        now: Timestamp,
    ) -> StoreResult<Verdict> {
        Ok(match self.request_item(id).await? {
            None => Verdict::NoRequest,
            Some(r) if r.state != RequestState::Open => Verdict::Decided,
            Some(r) if !r.is_open(now) => Verdict::RequestExpired,
            Some(_) => Verdict::Stale,
        })
    }

    /// Why deciding request `id` at `now` was refused: gone, decided, or expired.
    pub(super) async fn request_refusal(
        &self,
        id: &AccessRequestId,
        now: Timestamp,
    ) -> StoreResult<Verdict> {
        Ok(match self.request_item(id).await? {
            None => Verdict::NoRequest,
            Some(r) if r.state != RequestState::Open => Verdict::Decided,
            Some(r) if !r.is_open(now) => Verdict::RequestExpired,
            Some(_) => {
                return Err(StoreError::Backend(
                    "a request's decision was cancelled while it is open".into(),
                ))
            }
        })
    }
}
