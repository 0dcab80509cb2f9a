//! The writer thread: it alone owns the write connection. Requests queue up while a commit is
//! on its way to disk; the next batch then runs them all in one `BEGIN IMMEDIATE` transaction,
//! each in its own savepoint, and commits once, so requests that arrive together share one
//! fsync (group commit) and one failing request rolls back only its own savepoint. A request
//! that arrives alone has the transaction to itself and needs no savepoint. A result is
//! delivered only after the commit that holds it returned, with `synchronous = FULL` in force.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sql::backend;
use crate::store::{StoreError, StoreResult};

/// Most requests committed together; bounds a batch's latency.
const MAX_BATCH: usize = 512;

/// One queued request.
trait Job: Send {
    /// Runs inside the open transaction. `false`: roll this job's writes back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Delivers the outcome once the fate of the batch's commit is known.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

/// A job's work: returns the value and whether its writes are to be kept.
type Work<T> = Box<dyn FnOnce(&Connection) -> StoreResult<(T, bool)> + Send>;

struct Typed<T> {
    work: Option<Work<T>>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T: Send> Job for Typed<T> {
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        match work(conn) {
            Ok((value, keep)) => {
                self.result = Some(Ok(value));
                keep
            }
            Err(e) => {
                self.result = Some(Err(e));
                false
            }
        }
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let outcome = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(e)) => Err(StoreError::Backend(e)),
            (None, Err(e)) => Err(StoreError::Backend(e)),
            (None, Ok(())) => Err(backend("the request was not run")),
        };
        // The caller may have gone away; its outcome is then nobody's business.
        let _ = self.reply.send(outcome);
    }
}

/// The handle to the writer thread. Dropping the last one ends the thread.
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub fn start(conn: Connection) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("otpbot-sqlite-writer".into())
            .spawn(move || run(conn, queue))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch's transaction; its writes are kept when it returns
    /// `Ok((_, true))` and the batch commits.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<(T, bool)> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Typed {
            work: Some(Box::new(work)),
            result: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| backend("the database writer has stopped"))?;
        answer
            .await
            .map_err(|_| backend("the database writer dropped a request"))?
    }
}

// Never inlined, so that a profile names the writer thread's work as one frame.
#[inline(never)]
fn run(conn: Connection, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch);
    }
}

/// Runs `batch` in as few transactions as possible and delivers every outcome.
fn commit_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>) {
    if batch.len() == 1 {
        if let Some(job) = batch.pop() {
            commit_alone(conn, job);
        }
        return;
    }
    let mut pending = batch.into_iter();
    loop {
        if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
            for job in pending {
                job.finish(Err(format!("begin: {e}")));
            }
            return;
        }
        // On a lost transaction the jobs it held were told; the rest go into a new one.
        if let Some(ran) = run_in_savepoints(conn, &mut pending) {
            let committed = statement(conn, "COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("commit: {e}")
            });
            for job in ran {
                job.finish(committed.clone());
            }
            return;
        }
    }
}

/// Runs the `pending` jobs in the open transaction, each in its own savepoint, and returns
/// them to be told the commit's outcome; `None` if the transaction was lost on the way (every
/// job it held so far has been told, and the rest are still pending).
fn run_in_savepoints(
    conn: &Connection,
    pending: &mut impl Iterator<Item = Box<dyn Job>>,
) -> Option<Vec<Box<dyn Job>>> {
    let mut ran: Vec<Box<dyn Job>> = Vec::new();
    for mut job in pending.by_ref() {
        let kept = statement(conn, "SAVEPOINT job").is_ok() && job.run(conn);
        let lost = if conn.is_autocommit() {
            // A disk-full or I/O error rolled the whole transaction back: every job of it so
            // far is gone, so each is told.
            Some("the transaction was rolled back by an error".to_owned())
        } else {
            let closed = if kept {
                statement(conn, "RELEASE job")
            } else {
                statement(conn, "ROLLBACK TO job").and_then(|()| statement(conn, "RELEASE job"))
            };
            closed.err().map(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("savepoint: {e}")
            })
        };
        if let Some(why) = lost {
            for earlier in ran.drain(..) {
                earlier.finish(Err(why.clone()));
            }
            job.finish(Err(why));
            return None;
        }
        ran.push(job);
    }
    Some(ran)
}

/// Runs a job that arrived alone in its own transaction, which then needs no savepoint: its
/// writes are committed when kept and rolled back otherwise.
fn commit_alone(conn: &Connection, mut job: Box<dyn Job>) {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        job.finish(Err(format!("begin: {e}")));
        return;
    }
    let kept = job.run(conn);
    if conn.is_autocommit() {
        job.finish(Err("the transaction was rolled back by an error".into()));
        return;
    }
    let end = if kept { "COMMIT" } else { "ROLLBACK" };
    let ended = statement(conn, end).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        format!("{}: {e}", end.to_lowercase())
    });
    job.finish(ended);
}

/// Runs one cached transaction-control statement.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}
