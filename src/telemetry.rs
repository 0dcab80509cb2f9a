//! Logging: pretty lines locally, JSON lines when asked (Lambda). Log lines carry request ids,
//! principals, tools and outcomes; never request bodies, codes or seeds.
//!
//! Logging can never fail or hold up a request. Lines go through a bounded in-memory queue to
//! a writer thread (`tracing_appender::non_blocking`, lossy): when stderr is a pipe nobody reads,
//! the thread blocks and new lines are dropped, while requests carry on. Write errors (a closed
//! pipe, a full disk) are counted and otherwise ignored, never printed: printing them to the
//! same broken stderr is what panics.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines the queue holds before new ones are dropped.
const QUEUE_LINES: usize = 8_192;

static WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);
static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// How many log writes to stderr have failed since start.
pub fn write_errors() -> u64 {
    WRITE_ERRORS.load(Ordering::Relaxed)
}

/// Stderr that swallows (and counts) write errors.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if io::stderr().write_all(buf).is_err() {
            WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if io::stderr().flush().is_err() {
            WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Colour only for a person at a terminal: never into a pipe or file, never with `NO_COLOR`
/// set to anything non-empty (<https://no-color.org>).
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber, writing to stderr. Safe to call more than once: later calls
/// change nothing.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUE_LINES)
        .thread_name("otpbot-log")
        .finish(Stderr);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour_wanted())
        .log_internal_errors(false);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if result.is_ok() {
        if let Ok(mut slot) = GUARD.lock() {
            *slot = Some(guard);
        }
    }
}

/// Writes out the lines still queued (bounded wait). Call before the process exits.
pub fn flush() {
    if let Ok(mut slot) = GUARD.lock() {
        drop(slot.take());
    }
}
