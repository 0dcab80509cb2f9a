//! The embedded backend: one SQLite file holding the catalog, grants, roles, the audit log,
//! replay markers, rate-limit rings and the seeds, the seeds encrypted with AES-256-GCM under a
//! master key that is not in the file.
//!
//! Every write runs on one writer thread that owns the write connection (see `writer.rs`):
//! one `BEGIN IMMEDIATE` transaction per batch, one savepoint per decision, one commit and one
//! fsync (`synchronous = FULL`, WAL) shared by the decisions that arrived together. Reads use a
//! small pool of read connections, which WAL lets run beside the writer. The audit table refuses
//! UPDATE and DELETE by trigger.
//!
//! Files, from the handle down (each only uses those below it):
//! - `handle.rs`: [`LocalStore`] (the writer, the readers, the master key) and opening a store.
//! - One file per store trait: `access.rs`, `secrets.rs`, `audit_log.rs`, `counters.rs`
//!   (replay markers and the sweep), `decide.rs` (the one write path of a decision, whose
//!   changes are in `apply_change.rs`, and where a code is decided whole, `whole_code.rs`);
//!   `deployment_secrets.rs` for `otpbot secret set`.
//! - Rows and statements they share: `access_rows.rs`, `audit_rows.rs`, `rings.rs` (rate
//!   limits), `audit_chain.rs` (the chains' SQL functions, chain start and head).
//! - `verify_file.rs`: the read-only check of a database file's audit log.
//! - `opened_seeds.rs`: the seeds the writer keeps opened for whole codes.
//! - Below everything: `schema.rs` (migrations), `keycheck.rs`, `crypto.rs`, `writer.rs`,
//!   `sql.rs` (the file's name, opening a connection, SQLite errors) and `wal_writes.rs` (the
//!   VFS that hands a commit's log frames to the file in one write).

mod access;
mod access_rows;
mod apply_change;
mod approval_rows;
mod audit_chain;
mod audit_log;
mod audit_rows;
mod break_glass_rows;
mod counters;
mod crypto;
mod decide;
mod deployment_secrets;
mod handle;
mod keycheck;
mod opened_seeds;
mod rings;
mod schema;
mod secrets;
mod sql;
mod sweep;
mod verify_file;
mod wal_writes;
mod whole_code;
mod writer;

pub use crypto::MasterKey;
pub use handle::{LocalOptions, LocalStore};
pub use schema::{
    create_at_schema_version, BREAK_GLASS_VERSION, REQUESTER_NAME_VERSION, SWEEP_VERSION,
    TOOL_RULES_VERSION,
};
pub use sql::DB_FILE;
pub use verify_file::{verify_file, VerifyError};
