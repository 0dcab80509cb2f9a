//! What every part of the SQLite store shares: the database file's name, how a connection is
//! opened, and how a SQLite error becomes a store error.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::wal_writes;

use crate::store::{StoreError, StoreResult};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "otpbot.db";

/// A SQLite failure as a store error (the text is for the log).
pub(super) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens `path` as every connection of the store is opened: WAL, `synchronous = FULL`, foreign
/// keys on, a busy timeout, a statement cache, a commit's log frames written in a few large
/// writes (see [`wal_writes`]), and temporary files (the savepoints' statement journals among
/// them) in memory: on disk, a batch's journals spilled to a file the writer then wrote page by
/// page.
pub(super) fn connect(path: &Path) -> StoreResult<Connection> {
    if !wal_writes::register() {
        return Err(backend("SQLite refused the otpbot-wal VFS"));
    }
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), wal_writes::VFS)
        .map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(backend)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(backend)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(backend)?;
    Ok(conn)
}

/// Runs the cached statement `sql` with `args`; the number of rows it changed.
pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(args))
        .map_err(backend)
}
