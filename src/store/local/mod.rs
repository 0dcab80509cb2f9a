//! The embedded backend: one SQLite file holding the catalog, grants, roles, the audit log,
//! counters and the seeds, the seeds encrypted with AES-256-GCM under a master key that is not
//! in the file.
//!
//! Writes are committed with `synchronous = FULL` in WAL mode, so an appended audit event is on
//! disk before `append` returns. The audit table refuses UPDATE and DELETE by trigger.

mod access;
mod audit;
mod counters;
mod crypto;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use crypto::MasterKey;

use super::{StoreError, StoreResult};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "otpbot.db";

/// The SQLite-backed store. Cheap to share behind an `Arc`.
pub struct LocalStore {
    conn: Arc<Mutex<Connection>>,
    key: Arc<MasterKey>,
    path: PathBuf,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl LocalStore {
    /// Opens (creating if needed) `dir/otpbot.db` and brings its schema up to date.
    pub fn open(dir: &Path, key: MasterKey) -> StoreResult<Self> {
        create_private_dir(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path).map_err(backend)?;
        restrict_to_owner(&path).map_err(|e| backend(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        schema::migrate(&mut conn).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            key: Arc::new(key),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection off the async runtime.
    async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| backend("database lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes `path` readable and writable by its owner only.
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
