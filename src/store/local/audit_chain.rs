//! The audit chains in SQLite: the SQL functions the writer's INSERT calls to link a record to
//! the one committed before it (keyed chain value and unkeyed hash, see
//! [`crate::audit::chain`]), the chain-start record every chained log begins with, and the
//! log's head for checkpoints.
//!
//! The single writer runs decisions one savepoint after another, so "the record inserted last"
//! (`ORDER BY seq DESC LIMIT 1` inside the open transaction) is unambiguous, and a rolled-back
//! savepoint takes its record and its links with it.

use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::audit_rows::{insert_event, raw, to_event, START_SQL};
use super::sql::backend;
use crate::audit::chain::{hash_link, link};
use crate::audit::checkpoint::Head;
use crate::audit::record::canonical;
use crate::domain::{
    Action, AuditEvent, EventId, Outcome, Platform, Principal, RequestId, Timestamp,
};
use crate::keys::AuditKey;
use crate::store::{StoreError, StoreResult};

/// Readies the writer's connection `conn` for the chains: registers their SQL functions (under
/// `key`, if given) and, with a key, writes the chain-start record unless the log has one.
pub(super) fn set_up(
    conn: &mut Connection,
    key: Option<Arc<AuditKey>>,
    now: Timestamp,
) -> StoreResult<()> {
    let chained = key.is_some();
    register(conn, key).map_err(backend)?;
    if chained {
        start(conn, now)?;
    }
    Ok(())
}

/// Registers `otpbot_chain(previous, canonical)` and `otpbot_hash(previous, canonical)` on the
/// writer's connection; without a key both yield NULL (records unlinked, as in stores opened
/// for tests of other parts).
fn register(conn: &Connection, key: Option<Arc<AuditKey>>) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    let chained = key.is_some();
    conn.create_scalar_function("otpbot_chain", 2, flags, move |ctx| {
        let Some(key) = &key else {
            return Ok(None);
        };
        let previous: Option<String> = ctx.get(0)?;
        let record: Vec<u8> = ctx.get(1)?;
        Ok(Some(link(key, previous.as_deref(), &record)))
    })?;
    conn.create_scalar_function("otpbot_hash", 2, flags, move |ctx| {
        if !chained {
            return Ok(None);
        }
        let previous: Option<String> = ctx.get(0)?;
        let record: Vec<u8> = ctx.get(1)?;
        Ok(Some(hash_link(previous.as_deref(), &record)))
    })
}

/// Writes the chain-start record unless the log has one: the first record of the unkeyed
/// chain, audited like any other. Records before it (a store from before the chain) are the
/// log's prehistory. Runs in its own immediate transaction, so two processes opening a store
/// at once write one.
fn start(conn: &mut Connection, at: Timestamp) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let started: Option<i64> = tx.query_row(START_SQL, [], |r| r.get(0)).map_err(backend)?;
    if started.is_some() {
        return Ok(());
    }
    let earlier: i64 = tx
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .map_err(backend)?;
    let detail = match earlier {
        0 => "the audit chain starts".to_owned(),
        n => format!("the audit chain starts; the {n} records before it predate the chain"),
    };
    let actor = Principal::new(Platform::Cli, "local", "otpbot")
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let event = AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor,
        action: Action::ChainStart,
        tool: None,
        subject: None,
        outcome: Outcome::Ok,
        detail: Some(detail),
        channel: None,
        code_mac: None,
    };
    insert_event(&tx, &event)?;
    tx.commit().map_err(backend)
}

/// The log's head: its records from the chain start and the newest one's hash; `None` before
/// the chain has started (a store never opened with the audit key).
pub(super) fn head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    let row: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT (SELECT count(*) FROM audit WHERE seq >= s.start), \
                    (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) \
             FROM (SELECT min(seq) AS start FROM audit WHERE action = 'chain_start') AS s \
             WHERE s.start IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(None),
        Some((_, None)) => Err(StoreError::Corrupt(
            "the newest audit record carries no hash".into(),
        )),
        Some((records, Some(head))) => Ok(Some(Head {
            records: records as u64,
            head,
        })),
    }
}

/// Whether `key` links the last chained record to the one before it: how a store from before
/// key check values were recorded shows that an audit key is its own.
pub(super) fn links_last_record(conn: &Connection, key: &AuditKey) -> Result<bool, StoreError> {
    let last = conn
        .query_row(
            "SELECT id, at, request_id, actor, action, tool, subject, outcome, detail, channel, \
             code_mac, seq, chain FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
            [],
            |row| {
                Ok((
                    raw(row)?,
                    row.get::<_, i64>("seq")?,
                    row.get::<_, String>("chain")?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let Some((raw, seq, chain)) = last else {
        return Ok(true);
    };
    let previous: Option<String> = conn
        .query_row(
            "SELECT chain FROM audit WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
            [seq],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?
        .flatten();
    let event = to_event(raw)?;
    let canonical = canonical(&event);
    Ok(link(key, previous.as_deref(), &canonical) == chain)
}
