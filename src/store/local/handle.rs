//! The [`LocalStore`] handle: the writer thread, the read connections and the master key, and
//! opening a store (its directory, file, schema, key checks and audit chain).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use super::crypto::MasterKey;
use super::keycheck::{self, KeyRole};
use super::opened_seeds::OpenedSeeds;
use super::sql::{backend, connect, DB_FILE};
use super::writer::Writer;
use super::{audit_chain, schema};
use crate::audit::checkpoint::Head;
use crate::domain::{Clock, SystemClock, ToolName};
use crate::keys::{create_private_dir, AuditKey};
use crate::store::StoreResult;

/// Read connections kept open beside the writer.
const READERS: usize = 4;

/// Options for opening the store.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Caps the database at this many pages (`PRAGMA max_page_count`): writes beyond it fail
    /// as on a full disk. For fault tests and for operators who want a hard size limit.
    pub max_pages: Option<u64>,
    /// How long a seed the writer decrypted for a code is kept and reused while its stored
    /// ciphertext is unchanged (`OTPBOT_SEED_CACHE_SECS`, 60 s by default); zero: never.
    pub seed_cache: Duration,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            max_pages: None,
            seed_cache: Duration::from_secs(60),
        }
    }
}

/// The SQLite-backed store. Cheap to share behind an `Arc`.
pub struct LocalStore {
    writer: Writer,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    /// Decisions so far, to sweep expired markers every so many (see `decide`).
    pub(super) decisions: AtomicU64,
    pub(super) key: Arc<MasterKey>,
    /// Seeds the writer opened for whole codes (see `whole_code.rs`).
    pub(super) seeds: Arc<OpenedSeeds>,
    path: PathBuf,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens (creating if needed) `dir/otpbot.db` and brings its schema up to date.
    pub fn open(dir: &Path, key: MasterKey) -> StoreResult<Self> {
        Self::open_with(dir, key, LocalOptions::default())
    }

    /// [`LocalStore::open`] with options; audit records are not chained (see
    /// [`LocalStore::open_chained`]).
    pub fn open_with(dir: &Path, key: MasterKey, options: LocalOptions) -> StoreResult<Self> {
        Self::open_chained(dir, key, options, None)
    }

    /// [`LocalStore::open_with`] that links every audit record into the hash chain under
    /// `audit_key` (see [`crate::audit::chain`]); the server and the command line open it so.
    pub fn open_chained(
        dir: &Path,
        key: MasterKey,
        options: LocalOptions,
        audit_key: Option<Arc<AuditKey>>,
    ) -> StoreResult<Self> {
        create_private_dir(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let mut conn = connect(&path)?;
        restrict_to_owner(&path).map_err(|e| backend(format!("{}: {e}", path.display())))?;
        schema::migrate(&mut conn).map_err(backend)?;
        let key = Arc::new(key);
        confirm_keys(&conn, &key, audit_key.as_deref())?;
        audit_chain::set_up(&mut conn, audit_key, SystemClock.now())?;
        if let Some(pages) = options.max_pages {
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(backend)?;
        }
        Ok(Self {
            writer: Writer::start(conn).map_err(backend)?,
            readers: Arc::new(open_readers(&path)?),
            next_reader: AtomicUsize::new(0),
            decisions: AtomicU64::new(0),
            seeds: Arc::new(OpenedSeeds::new(Arc::clone(&key), options.seed_cache)),
            key,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The audit log's head for a checkpoint: its records from the chain start and the newest
    /// one's hash; `None` if the chain has not started (a store opened without the audit key).
    pub async fn audit_head(&self) -> StoreResult<Option<Head>> {
        self.read(audit_chain::head).await
    }

    /// Runs the read `f` on a read connection off the async runtime.
    pub(super) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            // A free connection if there is one, else wait for the one in turn.
            let count = readers.len();
            for i in 0..count {
                if let Ok(conn) = readers[(start + i) % count].try_lock() {
                    return f(&conn);
                }
            }
            let conn = readers[start % count]
                .lock()
                .map_err(|_| backend("database lock poisoned"))?;
            f(&conn)
        })
        .await
        .map_err(backend)?
    }

    /// Runs the point read `f` (a lookup by key: a few pages, nearly always cached) on a free
    /// read connection in place, sparing the hop to a blocking thread and back that
    /// [`LocalStore::read`] makes for reads of any length; with every read connection busy it
    /// waits for one as [`LocalStore::read`] does, off the async runtime.
    pub(super) async fn read_point<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        for i in 0..count {
            if let Ok(conn) = self.readers[(start + i) % count].try_lock() {
                return f(&conn);
            }
        }
        self.read(f).await
    }

    /// Runs the write `f` in the writer's next transaction; kept when it returns `(_, true)`.
    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<(T, bool)> + Send + 'static,
    {
        self.writer.write(f).await
    }
}

/// Refuses keys other than those the store was created with (see [`keycheck`]). A store from
/// before check values adopts a master key that decrypts its first seed, and an audit key that
/// links its last chained record.
fn confirm_keys(conn: &Connection, key: &MasterKey, audit: Option<&AuditKey>) -> StoreResult<()> {
    keycheck::confirm(conn, KeyRole::Master, key.bytes(), |c| {
        let first: Option<(String, Vec<u8>, Vec<u8>)> = c
            .query_row(
                "SELECT tool, nonce, ciphertext FROM seeds LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(backend)?;
        Ok(first.is_none_or(|(tool, nonce, ciphertext)| {
            ToolName::parse(&tool).is_ok_and(|t| key.open(&t, &nonce, &ciphertext).is_ok())
        }))
    })?;
    match audit {
        Some(audit) => keycheck::confirm(conn, KeyRole::Audit, audit.bytes(), |c| {
            audit_chain::links_last_record(c, audit)
        }),
        None => Ok(()),
    }
}

/// The read-only connections beside the writer.
fn open_readers(path: &Path) -> StoreResult<Vec<Mutex<Connection>>> {
    (0..READERS)
        .map(|_| {
            let reader = connect(path)?;
            reader
                .pragma_update(None, "query_only", "ON")
                .map_err(backend)?;
            Ok(Mutex::new(reader))
        })
        .collect()
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
