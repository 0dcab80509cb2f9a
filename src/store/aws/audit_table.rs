//! The audit log in its own DynamoDB table ([`AuditStore`]): conditional puts only (an event id
//! is written once), and queries by time on the table key, by tool and by actor on two indexes,
//! newest first, paged. Also the reads by time range that sealing and its check make, always
//! with `Query` on the table's key, never with `Scan`.

use async_trait::async_trait;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;

use super::handle::AwsStore;
use super::item::{get_n, get_s, n, opt_s, s, Item, ItemBuilder};
use super::schema::{AUDIT_BY_ACTOR, AUDIT_BY_TOOL, AUDIT_PK, AUDIT_SK, AUDIT_STREAM};
use super::sdk_error::{is_conditional_failure, sdk};
use crate::domain::{
    Action, AuditEvent, AuditQuery, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};
use crate::store::{AuditPage, AuditStore, StoreError, StoreResult};

fn corrupt(field: &str) -> StoreError {
    StoreError::Corrupt(format!("audit event with bad {field}"))
}

/// An audit event read back from its item.
pub(super) fn event_from(item: &Item) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: EventId::from_stored(get_s(item, AUDIT_SK)?.to_owned()),
        at: Timestamp::from_unix(get_n(item, "at")?),
        request_id: RequestId::from_stored(get_s(item, "request_id")?.to_owned()),
        actor: Principal::parse(get_s(item, "actor")?).map_err(|_| corrupt("actor"))?,
        action: Action::parse(get_s(item, "action")?).ok_or_else(|| corrupt("action"))?,
        tool: opt_s(item, "tool")
            .map(|t| ToolName::parse(&t))
            .transpose()
            .map_err(|_| corrupt("tool"))?,
        subject: opt_s(item, "subject")
            .map(|p| Principal::parse(&p))
            .transpose()
            .map_err(|_| corrupt("subject"))?,
        outcome: Outcome::parse(get_s(item, "outcome")?).ok_or_else(|| corrupt("outcome"))?,
        detail: opt_s(item, "detail"),
        channel: opt_s(item, "channel"),
        code_mac: opt_s(item, "code_mac"),
    })
}

/// The inclusive sort-key range for a query; the upper bound itself is excluded afterwards.
fn id_range(query: &AuditQuery) -> (String, String) {
    let low = query
        .since
        .map_or_else(|| "0".to_owned(), |t| format!("{:011}", t.unix().max(0)));
    let mut high = query
        .until
        .map_or_else(|| "~".to_owned(), |t| format!("{:011}", t.unix().max(0)));
    if let Some(before) = &query.before_id {
        if before.as_str() < high.as_str() {
            high = before.as_str().to_owned();
        }
    }
    (low, high)
}

/// The item of an audit event.
pub(super) fn event_item(event: &AuditEvent) -> Item {
    ItemBuilder::default()
        .set(AUDIT_PK, s(AUDIT_STREAM))
        .set(AUDIT_SK, s(event.id.as_str()))
        .set("at", n(event.at.unix()))
        .set("request_id", s(event.request_id.as_str()))
        .set("actor", s(event.actor.as_str()))
        .set("action", s(event.action.as_str()))
        .opt("tool", event.tool.as_ref().map(ToolName::as_str))
        .opt("subject", event.subject.as_ref().map(Principal::as_str))
        .set("outcome", s(event.outcome.as_str()))
        .opt("detail", event.detail.as_deref())
        .opt("channel", event.channel.as_deref())
        .opt("code_mac", event.code_mac.as_deref())
        .build()
}

#[async_trait]
impl AuditStore for AwsStore {
    async fn append(&self, event: &AuditEvent) -> StoreResult<()> {
        let item = event_item(event);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.settings.audit_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", AUDIT_SK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Backend(format!(
                "audit event {} already exists; not overwritten",
                event.id
            ))),
            Err(e) => Err(sdk("append audit event", e)),
        }
    }

    async fn query(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
        let limit = query.limit.clamp(1, 10_000);
        let (low, high) = id_range(query);
        if high < low {
            // DynamoDB refuses an inverted BETWEEN; the answer is simply empty.
            return Ok(AuditPage::default());
        }
        let mut events = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let request = self
                .audit_query(query, &low, &high)
                .limit((limit + 1 - events.len()).min(1_000) as i32)
                .set_exclusive_start_key(start.take());
            let out = request.send().await.map_err(|e| sdk("query audit", e))?;
            for item in out.items() {
                if get_s(item, AUDIT_SK)? != high {
                    events.push(event_from(item)?);
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() && events.len() <= limit => start = Some(key.clone()),
                _ => break,
            }
        }
        let next = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next,
            ..AuditPage::default()
        })
    }
}

impl AwsStore {
    /// The `Query` of `query`'s records with ids between `low` and `high`, newest first: on
    /// the tool index for a tool (filtered by actor if one is given too), on the actor index
    /// for an actor, else on the table key.
    fn audit_query(&self, query: &AuditQuery, low: &str, high: &str) -> QueryFluentBuilder {
        let (index, pk_name, pk_value) = match (&query.tool, &query.actor) {
            (Some(tool), _) => (Some(AUDIT_BY_TOOL), "tool", tool.to_string()),
            (None, Some(actor)) => (Some(AUDIT_BY_ACTOR), "actor", actor.to_string()),
            (None, None) => (None, AUDIT_PK, AUDIT_STREAM.to_owned()),
        };
        let request = self
            .ddb
            .query()
            .table_name(&self.settings.audit_table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#sk", AUDIT_SK)
            .expression_attribute_values(":pk", s(pk_value))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .scan_index_forward(false);
        match query.actor.as_ref().filter(|_| query.tool.is_some()) {
            Some(actor) => request
                .filter_expression("#actor = :actor")
                .expression_attribute_names("#actor", "actor")
                .expression_attribute_values(":actor", s(actor.as_str())),
            None => request,
        }
    }
}

/// The audit table's sort key of time `t`: a record id begins with it (11-digit Unix seconds),
/// and so does a seal's.
pub(super) fn sort_key(t: Timestamp) -> String {
    format!("{:011}", t.unix().max(0))
}

/// How a query walks the audit table: which partition, which sort-key bounds, which way.
pub(super) struct Walk {
    /// The partition: records or seals.
    pub(super) stream: &'static str,
    /// The lowest sort key.
    pub(super) low: String,
    /// The highest sort key.
    pub(super) high: String,
    /// Oldest first.
    pub(super) forward: bool,
    /// At most this many items (one page); all of them without it.
    pub(super) limit: Option<i32>,
}

impl AwsStore {
    /// Items of the audit table, in sort-key order, paged; strongly consistent.
    pub(super) async fn walk(&self, walk: Walk) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.settings.audit_table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", AUDIT_PK)
                .expression_attribute_names("#sk", AUDIT_SK)
                .expression_attribute_values(":pk", s(walk.stream))
                .expression_attribute_values(":low", s(walk.low.clone()))
                .expression_attribute_values(":high", s(walk.high.clone()))
                .scan_index_forward(walk.forward)
                .set_limit(walk.limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("query audit table", e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() && walk.limit.is_none() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Records with `from <= at < to`, in id order.
    pub(super) async fn records_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEvent>> {
        self.walk(Walk {
            stream: AUDIT_STREAM,
            low: sort_key(from),
            high: sort_key(to),
            forward: true,
            limit: None,
        })
        .await?
        .iter()
        .map(event_from)
        .collect()
    }

    /// The oldest record at or after `from`.
    pub(super) async fn first_record_from(
        &self,
        from: Timestamp,
    ) -> StoreResult<Option<AuditEvent>> {
        let items = self
            .walk(Walk {
                stream: AUDIT_STREAM,
                low: sort_key(from),
                high: "~".into(),
                forward: true,
                limit: Some(1),
            })
            .await?;
        items.first().map(event_from).transpose()
    }

    /// Records with `from <= at < to`, counted (`Select COUNT`, paged).
    pub(super) async fn count_between(&self, from: Timestamp, to: Timestamp) -> StoreResult<usize> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.settings.audit_table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", AUDIT_PK)
                .expression_attribute_names("#sk", AUDIT_SK)
                .expression_attribute_values(":pk", s(AUDIT_STREAM))
                .expression_attribute_values(":low", s(sort_key(from)))
                .expression_attribute_values(":high", s(sort_key(to)))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("count audit records", e))?;
            count += out.count().max(0) as usize;
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(count),
            }
        }
    }
}
