//! An audit record as a row of the SQLite `audit` table: its columns, reading one back, and
//! inserting one linked into the chains by the SQL functions of [`super::audit_chain`].

use rusqlite::{params, Connection, Row};

use super::sql::backend;
use crate::audit::record::canonical;
use crate::domain::{
    Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};
use crate::store::{StoreError, StoreResult};

/// The SQL expression for the chain value of the record being inserted, whose canonical
/// encoding is parameter 12.
pub(super) const NEXT_LINK_SQL: &str =
    "otpbot_chain((SELECT chain FROM audit ORDER BY seq DESC LIMIT 1), ?12)";

/// The SQL expression for the unkeyed hash of the record being inserted.
pub(super) const NEXT_HASH_SQL: &str =
    "otpbot_hash((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), ?12)";

/// The position of the chain-start record (none before the first open with the audit key).
pub(super) const START_SQL: &str = "SELECT min(seq) FROM audit WHERE action = 'chain_start'";

/// The record's columns, which [`raw`] reads by name.
pub(super) const COLUMNS: &str =
    "id, at, request_id, actor, action, tool, subject, outcome, detail, channel, code_mac";

/// The text columns of a record, in the order [`RawEvent`] holds them.
const TEXT_COLUMNS: [&str; 10] = [
    "id",
    "request_id",
    "actor",
    "action",
    "tool",
    "subject",
    "outcome",
    "detail",
    "channel",
    "code_mac",
];

/// A row's text columns (in the order of [`TEXT_COLUMNS`]) and its time, as read.
pub(super) struct RawEvent([Option<String>; 10], i64);

/// The record of `row`, which holds [`COLUMNS`] (read by name, in any order).
pub(super) fn raw(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    let mut text: [Option<String>; 10] = Default::default();
    for (slot, column) in text.iter_mut().zip(TEXT_COLUMNS) {
        *slot = row.get(column)?;
    }
    Ok(RawEvent(text, row.get("at")?))
}

fn corrupt(field: &str) -> StoreError {
    StoreError::Corrupt(format!("audit event with bad {field}"))
}

/// The record `raw` holds, if otpbot could have written it.
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
/// hash link it to the record inserted last, in the same transaction (see [`super::audit_chain`]).
pub(super) fn insert_event(conn: &Connection, e: &AuditEvent) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO audit ({COLUMNS}, chain, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, {}, {})",
            NEXT_LINK_SQL, NEXT_HASH_SQL
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
        canonical(e)
    ])
    .map(drop)
    .map_err(backend)
}
