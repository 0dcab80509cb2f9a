//! The audit log in SQLite: INSERT only (UPDATE and DELETE abort by trigger). Each record is
//! linked to the one before it as it is inserted (see [`super::chain`]).

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row};

use super::{backend, LocalStore};
use crate::audit::record::Position;
use crate::domain::{
    Action, AuditEvent, AuditQuery, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};
use crate::store::{AuditPage, AuditStore, StoreError, StoreResult};

const COLUMNS: &str =
    "id, at, request_id, actor, action, tool, subject, outcome, detail, channel, code_mac";

pub(super) struct RawEvent([Option<String>; 10], i64);

pub(super) fn raw(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    let mut text: [Option<String>; 10] = Default::default();
    for (slot, column) in text.iter_mut().zip([0usize, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
        *slot = row.get(column)?;
    }
    Ok(RawEvent(text, row.get(1)?))
}

fn corrupt(field: &str) -> StoreError {
    StoreError::Corrupt(format!("audit event with bad {field}"))
}

pub(super) fn to_event(RawEvent(t, at): RawEvent) -> StoreResult<AuditEvent> {
    let [id, request_id, actor, action, tool, subject, outcome, detail, channel, code_mac] = t;
    let need = |v: Option<String>, field: &str| v.ok_or_else(|| corrupt(field));
    Ok(AuditEvent {
        id: EventId::from_stored(need(id, "id")?),
        at: Timestamp::from_unix(at),
        request_id: RequestId::from_stored(need(request_id, "request_id")?),
        actor: Principal::parse(&need(actor, "actor")?).map_err(|_| corrupt("actor"))?,
        action: Action::parse(&need(action, "action")?).ok_or_else(|| corrupt("action"))?,
        tool: tool
            .map(|t| ToolName::parse(&t))
            .transpose()
            .map_err(|_| corrupt("tool"))?,
        subject: subject
            .map(|s| Principal::parse(&s))
            .transpose()
            .map_err(|_| corrupt("subject"))?,
        outcome: Outcome::parse(&need(outcome, "outcome")?).ok_or_else(|| corrupt("outcome"))?,
        detail,
        channel,
        code_mac,
    })
}

/// Inserts `event` on the writer's connection; fails if its id exists. Its chain value and
/// hash link it to the record inserted last, in the same transaction (see [`super::chain`]).
pub(super) fn insert_event(conn: &Connection, e: &AuditEvent) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO audit ({COLUMNS}, chain, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, {}, {})",
            super::chain::NEXT_LINK_SQL,
            super::chain::NEXT_HASH_SQL
        ))
        .map_err(backend)?;
    stmt.execute(params![
        e.id.as_str(),
        e.at.unix(),
        e.request_id.as_str(),
        e.actor.as_str(),
        e.action.as_str(),
        e.tool.as_ref().map(ToolName::as_str),
        e.subject.as_ref().map(Principal::as_str),
        e.outcome.as_str(),
        e.detail,
        e.channel,
        e.code_mac,
        crate::audit::record::canonical(e)
    ])
    .map(drop)
    .map_err(backend)
}

/// The `WHERE` clause of `query` and its parameters.
fn filter(query: &AuditQuery) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut add = |clause: &str, value: Value| {
        args.push(value);
        clauses.push(format!("{clause} ?{}", args.len()));
    };
    if let Some(tool) = &query.tool {
        add("tool =", Value::Text(tool.as_str().into()));
    }
    if let Some(actor) = &query.actor {
        add("actor =", Value::Text(actor.as_str().into()));
    }
    if let Some(since) = query.since {
        add("at >=", Value::Integer(since.unix()));
    }
    if let Some(until) = query.until {
        add("at <", Value::Integer(until.unix()));
    }
    if let Some(before) = &query.before_id {
        add("id <", Value::Text(before.as_str().into()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (filter, args)
}

#[async_trait]
impl AuditStore for LocalStore {
    async fn append(&self, event: &AuditEvent) -> StoreResult<()> {
        let e = event.clone();
        self.write(move |c| insert_event(c, &e).map(|()| ((), true)))
            .await
    }

    async fn query(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
        let (filter, args) = filter(query);
        let limit = query.limit.clamp(1, 10_000);
        // One more row than asked tells whether there is a next page.
        let sql = format!(
            "SELECT {COLUMNS}, seq, hash FROM audit {filter} ORDER BY id DESC LIMIT {}",
            limit + 1
        );
        let rows = self
            .read(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args), |row| {
                        let position = Position {
                            seq: row.get(11)?,
                            hash: row.get(12)?,
                        };
                        Ok((raw(row)?, position))
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        let (mut events, mut positions) = (Vec::new(), Vec::new());
        for (raw, position) in rows {
            events.push(to_event(raw)?);
            positions.push(position);
        }
        let next = if events.len() > limit {
            events.truncate(limit);
            positions.truncate(limit);
            events.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next,
            positions,
        })
    }
}
