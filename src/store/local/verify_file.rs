//! `otpbot audit verify` on the local store: the read-only check of a database file's audit
//! log (see [`crate::audit::chain_check`] for what is checked). It opens the file read-only and
//! writes nothing.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::audit_rows::{raw, to_event, START_SQL};
use super::schema;
use super::sql::{backend, DB_FILE};
use crate::audit::chain_check::{verify_chain, Anchor, Linked, Walk};
use crate::audit::checkpoint::Heads;
use crate::audit::discrepancy::Discrepancy;
use crate::audit::verified::Verified;
use crate::domain::Timestamp;
use crate::keys::AuditKey;
use crate::store::StoreError;

/// Why a check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log is not what otpbot wrote.
    #[error("{0}")]
    Discrepancy(Discrepancy),
    /// The file's schema predates the chain start: no otpbot of this version has opened it.
    #[error(
        "the store's schema (version {0}) predates the audit chain's start record; open the \
         store once with this otpbot (any command, e.g. `otpbot tool list`), which writes it, \
         then verify"
    )]
    Outdated(usize),
    /// The file could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the audit log in `dir/otpbot.db`, opened read-only, from the first record (or the
/// first at or after `since`) to the last, and collects the hashes at the `wanted` positions
/// of the chain for checkpoints.
pub fn verify_file(
    dir: &Path,
    key: &AuditKey,
    since: Option<Timestamp>,
    wanted: &BTreeSet<u64>,
) -> Result<(Verified, Heads), VerifyError> {
    let conn = Connection::open_with_flags(
        dir.join(DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    let version: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend)?;
    if version < schema::CHAIN_START_VERSION {
        return Err(VerifyError::Outdated(version));
    }
    let last_seq = last_position(&conn)?;
    let start_seq = chain_start(&conn, last_seq)?;
    let Some((first, anchor)) = start_point(&conn, since)? else {
        // Nothing at or after `since`.
        return Ok((Verified::default(), Heads::default()));
    };
    let walk = Walk {
        key,
        anchor,
        last_seq,
        start_seq,
        wanted: wanted.clone(),
    };
    let (rows, unreadable) = read_rows(&conn, first)?;
    match unreadable {
        None => verify_chain(walk, &rows).map_err(VerifyError::Discrepancy),
        Some(altered) => {
            // The records before it are checked first: the first discrepancy is the one told.
            let walk = Walk {
                last_seq: 0,
                ..walk
            };
            verify_chain(walk, &rows).map_err(VerifyError::Discrepancy)?;
            Err(VerifyError::Discrepancy(altered))
        }
    }
}

/// The highest position the store ever handed out (SQLite's counter of the `audit` table),
/// which outlives records removed from the end of the log.
fn last_position(conn: &Connection) -> Result<i64, VerifyError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    Ok(seq.unwrap_or(0))
}

/// The chain start's position. Every log of this schema has one, so its absence means it was
/// removed: with the whole log (`LogEmptied` when the store's counter remembers records), or
/// on its own.
fn chain_start(conn: &Connection, last_seq: i64) -> Result<i64, VerifyError> {
    let start: Option<i64> = conn
        .query_row(START_SQL, [], |r| r.get(0))
        .map_err(backend)?;
    if let Some(start) = start {
        return Ok(start);
    }
    let empty: bool = conn
        .query_row("SELECT NOT EXISTS (SELECT 1 FROM audit)", [], |r| r.get(0))
        .map_err(backend)?;
    Err(VerifyError::Discrepancy(if empty && last_seq > 0 {
        Discrepancy::LogEmptied {
            positions: last_seq,
        }
    } else {
        Discrepancy::ChainStartMissing
    }))
}

/// Where the check starts: the first position (`i64::MIN` for the whole log) and, with
/// `since`, the record before it as the trusted anchor; `None` if nothing is that recent.
fn start_point(
    conn: &Connection,
    since: Option<Timestamp>,
) -> Result<Option<(i64, Option<Anchor>)>, VerifyError> {
    let Some(since) = since else {
        return Ok(Some((i64::MIN, None)));
    };
    let start: Option<i64> = conn
        .query_row(
            "SELECT min(seq) FROM audit WHERE at >= ?1",
            [since.unix()],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let Some(start) = start else {
        return Ok(None);
    };
    let anchor = conn
        .query_row(
            "SELECT seq, chain, hash FROM audit WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
            [start],
            |r| {
                Ok(Anchor {
                    seq: r.get(0)?,
                    chain: r.get(1)?,
                    hash: r.get(2)?,
                })
            },
        )
        .optional()
        .map_err(backend)?
        .unwrap_or_default();
    Ok(Some((start, Some(anchor))))
}

/// The records from position `first` on, up to the first one holding a field otpbot could not
/// have written (returned as its discrepancy).
fn read_rows(
    conn: &Connection,
    first: i64,
) -> Result<(Vec<Linked>, Option<Discrepancy>), VerifyError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, at, request_id, actor, action, tool, subject, outcome, detail, channel, \
             code_mac, seq, chain, hash FROM audit WHERE seq >= ?1 ORDER BY seq",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([first], |row| {
            Ok((
                raw(row)?,
                row.get::<_, i64>("seq")?,
                row.get::<_, Option<String>>("chain")?,
                row.get::<_, Option<String>>("hash")?,
                row.get::<_, Option<String>>("id")?,
            ))
        })
        .map_err(backend)?;
    let mut linked = Vec::new();
    for row in rows {
        let (raw, seq, chain, hash, id) = row.map_err(backend)?;
        match to_event(raw) {
            Ok(event) => linked.push(Linked {
                seq,
                event,
                chain,
                hash,
            }),
            Err(_) => {
                let altered = Discrepancy::RecordAltered {
                    seq,
                    id: id.unwrap_or_default(),
                };
                return Ok((linked, Some(altered)));
            }
        }
    }
    Ok((linked, None))
}
