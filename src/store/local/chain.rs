//! The audit hash chain in SQLite: the SQL function the writer's INSERT calls to link a record
//! to the one committed before it, and the read-only check of a database file.
//!
//! The single writer runs decisions one savepoint after another, so "the record inserted last"
//! (`ORDER BY seq DESC LIMIT 1` inside the open transaction) is unambiguous, and a rolled-back
//! savepoint takes its record and its chain value with it.

use std::path::Path;
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::audit::{raw, to_event};
use super::{StoreError, DB_FILE};
use crate::audit::chain::link;
use crate::audit::verify::{verify_chain, Discrepancy, Linked, Verified};
use crate::domain::Timestamp;
use crate::keys::AuditKey;

/// The SQL expression for the chain value of the record being inserted, whose canonical
/// encoding is parameter 12.
pub(super) const NEXT_LINK_SQL: &str =
    "otpbot_chain((SELECT chain FROM audit ORDER BY seq DESC LIMIT 1), ?12)";

/// Registers `otpbot_chain(previous, canonical)` on the writer's connection; without a key it
/// yields NULL (records unchained, as in stores opened for tests of other parts).
pub(super) fn register(conn: &Connection, key: Option<Arc<AuditKey>>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "otpbot_chain",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| {
            let Some(key) = &key else {
                return Ok(None);
            };
            let previous: Option<String> = ctx.get(0)?;
            let record: Vec<u8> = ctx.get(1)?;
            Ok(Some(link(key, previous.as_deref(), &record)))
        },
    )
}

/// Why a check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log is not what otpbot wrote.
    #[error("{0}")]
    Discrepancy(Discrepancy),
    /// The file could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn read_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Checks the chain of the audit log in `dir/otpbot.db`, opened read-only, from the first
/// record (or the first at or after `since`) to the last.
pub fn verify_file(
    dir: &Path,
    key: &AuditKey,
    since: Option<Timestamp>,
) -> Result<Verified, VerifyError> {
    let conn = Connection::open_with_flags(
        dir.join(DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(read_err)?;
    let last_seq: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(read_err)?
        .unwrap_or(0);
    let start: Option<i64> = match since {
        None => None,
        Some(since) => conn
            .query_row(
                "SELECT min(seq) FROM audit WHERE at >= ?1",
                [since.unix()],
                |r| r.get(0),
            )
            .map_err(read_err)?,
    };
    let anchor = match (since, start) {
        (Some(_), Some(start)) => Some(
            conn.query_row(
                "SELECT seq, chain FROM audit WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
                [start],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional()
            .map_err(read_err)?
            .unwrap_or((0, None)),
        ),
        (Some(_), None) => {
            return Ok(Verified {
                records: 0,
                seals: 0,
                span: None,
                unchained: 0,
                unsealed: 0,
            })
        }
        (None, _) => None,
    };
    let mut stmt = conn
        .prepare(
            "SELECT id, at, request_id, actor, action, tool, subject, outcome, detail, channel, \
             code_mac, seq, chain FROM audit WHERE seq >= ?1 ORDER BY seq",
        )
        .map_err(read_err)?;
    let rows = stmt
        .query_map([start.unwrap_or(i64::MIN)], |row| {
            Ok((
                raw(row)?,
                row.get::<_, i64>(11)?,
                row.get::<_, Option<String>>(12)?,
                row.get::<_, Option<String>>(0)?,
            ))
        })
        .map_err(read_err)?;
    let mut linked = Vec::new();
    // A field otpbot could not have written is an alteration, reported once the records
    // before it have been checked (the first discrepancy is the one reported).
    let mut unreadable = None;
    for row in rows {
        let (raw, seq, chain, id) = row.map_err(read_err)?;
        match to_event(raw) {
            Ok(event) => linked.push(Linked { seq, event, chain }),
            Err(_) => {
                unreadable = Some(Discrepancy::RecordAltered {
                    seq,
                    id: id.unwrap_or_default(),
                });
                break;
            }
        }
    }
    match unreadable {
        None => verify_chain(key, &linked, anchor, last_seq).map_err(VerifyError::Discrepancy),
        Some(altered) => {
            verify_chain(key, &linked, anchor, 0).map_err(VerifyError::Discrepancy)?;
            Err(VerifyError::Discrepancy(altered))
        }
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
            |row| Ok((raw(row)?, row.get::<_, i64>(11)?, row.get::<_, String>(12)?)),
        )
        .optional()
        .map_err(read_err)?;
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
        .map_err(read_err)?
        .flatten();
    let event = to_event(raw)?;
    let canonical = crate::audit::chain::canonical(&event);
    Ok(link(key, previous.as_deref(), &canonical) == chain)
}
