//! A commit reaches the write-ahead log in a few large writes, instead of two per page.
//!
//! SQLite appends a commit's pages to the log as frames, each a 24-byte header and the page,
//! and passes each half to the file separately
//! (<https://www.sqlite.org/fileformat2.html#walformat>): a batch of codes that dirties a
//! hundred pages costs two hundred `pwrite` calls, each touching one or two of the kernel's
//! cached pages, on the writer thread that every code waits for. This module registers a VFS,
//! `otpbot-wal`, that is SQLite's default one with a single change: writes to a log file that
//! continue the previous one are gathered in memory and handed to the file in pieces of 124 KiB
//! at the end of each commit frame (the frame whose header carries the database size after the
//! commit) and before anything else touches the file (a read, a sync, a truncation, its size,
//! a write elsewhere, closing it). Every byte still reaches the file, at the offset SQLite
//! chose and in its order, before SQLite syncs it and before a commit is visible to any reader,
//! so what a crash or a power cut can leave behind is what SQLite's own VFS leaves. Database and
//! other files are opened by the default VFS unchanged.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
pub(super) const VFS: &str = "otpbot-wal";

const NAME: &CStr = c"otpbot-wal";

/// A log's pending bytes are handed over once they reach this size even mid-commit, so that a
/// large transaction (a migration) does not hold all of its pages twice.
const MOST_PENDING: usize = 4 << 20;

/// Bytes handed to the default VFS in one call: 31 pages, under its 128 KiB.
const MOST_PER_WRITE: usize = 31 * 4096;

/// Bytes of a frame's header; its bytes 4 to 8 are the database size after a commit frame's
/// commit, zero in any other frame.
const FRAME_HEADER: usize = 24;

/// Registers the VFS (once); false if SQLite refused it.
pub(super) fn register() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which SQLite keeps for the
        // life of the process; the copy made of it is leaked, so it outlives every connection.
        // The copy's other methods are the default VFS's own, called with the copy: the unix
        // VFS's ignore which VFS they are called through, but for `mxPathname`, copied too.
        unsafe {
            let root = ffi::sqlite3_vfs_find(std::ptr::null());
            if root.is_null() || ROOT.set(Root(root)).is_err() {
                return false;
            }
            let mut vfs = *root;
            vfs.pNext = std::ptr::null_mut();
            vfs.zName = NAME.as_ptr();
            vfs.szOsFile = (INNER_OFFSET + (*root).szOsFile as usize) as c_int;
            vfs.xOpen = Some(open);
            let vfs = Box::into_raw(Box::new(vfs));
            ffi::sqlite3_vfs_register(vfs, 0) == ffi::SQLITE_OK
        }
    })
}

/// The default VFS that every call is passed on to.
struct Root(*mut ffi::sqlite3_vfs);

// SAFETY: SQLite's VFS objects are made to be used from any thread.
unsafe impl Send for Root {}
unsafe impl Sync for Root {}

static ROOT: OnceLock<Root> = OnceLock::new();

/// An open log file: SQLite sees `base` (it must come first), the default VFS's own file lives
/// right after this struct, in the space `szOsFile` asked SQLite to allocate for both.
#[repr(C)]
struct LogFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Bytes written but not yet handed to the file, which start at `at`.
    pending: Vec<u8>,
    at: i64,
    /// Whether the last write was the header of a commit frame, so that the next one ends it.
    commit_header: bool,
}

/// Where the default VFS's file starts: after a `LogFile`, kept 8-byte aligned.
const INNER_OFFSET: usize = std::mem::size_of::<LogFile>().next_multiple_of(8);

static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// Opens `name` with the default VFS, into `file` itself unless it is a write-ahead log.
unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(Root(root)) = ROOT.get() else {
        return ffi::SQLITE_ERROR;
    };
    let Some(root_open) = (**root).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        return root_open(*root, name, file, flags, out_flags);
    }
    let inner = file
        .cast::<u8>()
        .add(INNER_OFFSET)
        .cast::<ffi::sqlite3_file>();
    let rc = root_open(*root, name, inner, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        (*file).pMethods = std::ptr::null();
        return rc;
    }
    file.cast::<LogFile>().write(LogFile {
        base: ffi::sqlite3_file {
            pMethods: &LOG_METHODS,
        },
        inner,
        pending: Vec::new(),
        at: 0,
        commit_header: false,
    });
    ffi::SQLITE_OK
}

/// The log file behind `file`, which `open` made.
unsafe fn log<'a>(file: *mut ffi::sqlite3_file) -> &'a mut LogFile {
    &mut *file.cast::<LogFile>()
}

/// The default VFS's methods for the log's own file.
unsafe fn inner(log: &LogFile) -> &ffi::sqlite3_io_methods {
    &*(*log.inner).pMethods
}

/// Hands the pending bytes to the file, in pieces the default VFS takes whole: its `xWrite`
/// passes at most 128 KiB to one `pwrite` (it masks a larger size with `0x1ffff`).
unsafe fn flush(log: &mut LogFile) -> c_int {
    let Some(write) = inner(log).xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut rc = ffi::SQLITE_OK;
    let mut at = log.at;
    for piece in log.pending.chunks(MOST_PER_WRITE) {
        // A piece is at most MOST_PER_WRITE bytes, which an int holds.
        rc = write(log.inner, piece.as_ptr().cast(), piece.len() as c_int, at);
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += piece.len() as i64;
    }
    log.pending.clear();
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let log = log(file);
    let flushed = flush(log);
    let closed = match inner(log).xClose {
        Some(close) => close(log.inner),
        None => ffi::SQLITE_OK,
    };
    std::ptr::drop_in_place(&mut log.pending);
    (*file).pMethods = std::ptr::null();
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let log = log(file);
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if len == 0 || data.is_null() {
        return ffi::SQLITE_OK;
    }
    let follows = log.at + log.pending.len() as i64 == offset;
    if !follows {
        let rc = flush(log);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        log.at = offset;
    }
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
    log.pending.extend_from_slice(bytes);
    let ends_commit = log.commit_header;
    log.commit_header = len == FRAME_HEADER && bytes[4..8] != [0; 4];
    if ends_commit || log.pending.len() >= MOST_PENDING {
        return flush(log);
    }
    ffi::SQLITE_OK
}

/// Flushes, then passes the call on to the file.
macro_rules! flushed_then {
    ($name:ident, $method:ident, $fail:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            let log = log(file);
            let rc = flush(log);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            match inner(log).$method {
                Some(method) => method(log.inner $(, $arg)*),
                None => $fail,
            }
        }
    };
}

/// Passes the call on to the file.
macro_rules! passed_on {
    ($name:ident, $method:ident, $fail:expr, $ret:ty, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            let log = log(file);
            match inner(log).$method {
                Some(method) => method(log.inner $(, $arg)*),
                None => $fail,
            }
        }
    };
}

flushed_then!(read, xRead, ffi::SQLITE_IOERR_READ, (buf: *mut c_void, amount: c_int, offset: i64));
flushed_then!(truncate, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, (size: i64));
flushed_then!(sync, xSync, ffi::SQLITE_IOERR_FSYNC, (flags: c_int));
flushed_then!(file_size, xFileSize, ffi::SQLITE_IOERR_FSTAT, (size: *mut i64));
flushed_then!(file_control, xFileControl, ffi::SQLITE_NOTFOUND, (op: c_int, arg: *mut c_void));
passed_on!(lock, xLock, ffi::SQLITE_OK, c_int, (level: c_int));
passed_on!(unlock, xUnlock, ffi::SQLITE_OK, c_int, (level: c_int));
passed_on!(check_reserved_lock, xCheckReservedLock, ffi::SQLITE_OK, c_int, (out: *mut c_int));
passed_on!(sector_size, xSectorSize, 4096, c_int, ());
passed_on!(device_characteristics, xDeviceCharacteristics, 0, c_int, ());

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::*;

    /// Write calls this thread has made so far (`syscw` of `/proc/thread-self/io`).
    fn write_calls() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").expect("io counters");
        io.lines()
            .find_map(|l| l.strip_prefix("syscw: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("syscw")
    }

    fn open(path: &std::path::Path, vfs: &str, synchronous: &str) -> Connection {
        assert!(register());
        let conn =
            Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", synchronous)
            .expect("synchronous");
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no checkpoint");
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
            .expect("table");
        conn
    }

    /// Write calls of one commit that inserts rows `from..from + 100`, each on a page of its
    /// own: about 100 pages.
    fn commit_rows(conn: &Connection, from: i64) -> u64 {
        let before = write_calls();
        let tx = conn.unchecked_transaction().expect("begin");
        for k in from..from + 100 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(3000))", [k])
                .expect("insert");
        }
        tx.commit().expect("commit");
        write_calls() - before
    }

    #[test]
    fn a_commit_reaches_the_log_in_large_writes_not_two_per_page() {
        let dir = tempfile::tempdir().expect("dir");
        let plain = commit_rows(&open(&dir.path().join("plain.db"), "unix", "FULL"), 0);
        let gathered = commit_rows(&open(&dir.path().join("gathered.db"), VFS, "FULL"), 0);
        assert!(plain >= 200, "the default VFS: {plain} writes");
        let frames = plain / 2;
        let pieces = (frames * (4096 + FRAME_HEADER as u64)).div_ceil(MOST_PER_WRITE as u64);
        assert!(
            gathered <= pieces + 1,
            "gathered: {gathered} writes for {frames} frames (the default VFS made {plain})"
        );
    }

    /// Without a sync at commit, a reader on another connection sees a commit at once: its
    /// frames reach the file with the commit frame, not at the next sync.
    #[test]
    fn a_commit_is_in_the_file_before_any_reader_can_see_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("otpbot.db");
        let writer = open(&path, VFS, "OFF");
        let reader = Connection::open(&path).expect("reader");
        for round in 1..=3_i64 {
            commit_rows(&writer, 100 * (round - 1));
            let (rows, bytes): (i64, i64) = reader
                .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("read");
            assert_eq!((rows, bytes), (100 * round, 300_000 * round));
        }
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
    }

    /// A transaction larger than the page cache and than the pending limit: frames spilled
    /// mid-transaction, rewritten in place when their page changes again, handed over in
    /// several rounds; another connection, through SQLite's own VFS, reads it all back intact.
    #[test]
    fn a_transaction_past_the_cache_and_the_pending_limit_reads_back_intact() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("otpbot.db");
        let writer = open(&path, VFS, "FULL");
        writer
            .pragma_update(None, "cache_size", 16)
            .expect("small cache");
        let tx = writer.unchecked_transaction().expect("begin");
        for k in 0..2_000_i64 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, randomblob(3000))", [k])
                .expect("insert");
        }
        tx.execute("UPDATE t SET v = zeroblob(2000) WHERE k % 7 = 0", [])
            .expect("rewrite");
        tx.commit().expect("commit");
        let reader = Connection::open(&path).expect("reader");
        let (rows, bytes): (i64, i64) = reader
            .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("read");
        let rewritten = (0..2_000).filter(|k| k % 7 == 0).count() as i64;
        assert_eq!(rows, 2_000);
        assert_eq!(bytes, 3_000 * (2_000 - rewritten) + 2_000 * rewritten);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
    }
}
