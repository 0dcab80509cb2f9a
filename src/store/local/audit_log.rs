//! The audit log in SQLite ([`AuditStore`]): INSERT only (UPDATE and DELETE abort by trigger).
//! Each record is linked to the one before it as it is inserted (see [`super::audit_chain`]).

use async_trait::async_trait;
use rusqlite::types::Value;

use super::audit_rows::{insert_event, raw, to_event, COLUMNS};
use super::handle::LocalStore;
use super::sql::backend;
use crate::audit::record::Position;
use crate::domain::{AuditEvent, AuditQuery};
use crate::store::{AuditPage, AuditStore, StoreResult};

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
                            seq: row.get("seq")?,
                            hash: row.get("hash")?,
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
