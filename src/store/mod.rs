//! Storage behind small traits, one per role, so the core never knows which backend it runs on.
//!
//! - [`AccessStore`]: reads of the tool catalog, grants and roles.
//! - [`SecretStore`]: TOTP seeds. Read only after authorization.
//! - [`AuditStore`]: the append-only audit log (reads, and lone records).
//! - [`DecisionStore`]: the one write path of a decision. The core hands over the whole decision
//!   (the request's replay marker and rate limits, the audit record, and the grant to re-check
//!   or the access change to make) and the backend commits it in one transaction, or not at all.
//!   A backend may also decide a whole code in that transaction ([`WholeCodes`]: the grant, the
//!   limits, then the seed and the record), reading nothing before it.
//! - [`CounterStore`]: a lone replay marker, for front ends whose check does not join a decision.
//!
//! The traits that read live in `traits.rs`, the decision and its trait in `decision.rs`, the
//! error in `error.rs`, and [`Stores`] (one object per role, chosen at start-up) in
//! `stores.rs`; this file only names them. The audit log's format and checks are not here but
//! below, in [`crate::audit`]: backends use it to write their records, chains and seals.
//!
//! Backends: [`local`] (one SQLite file) and [`aws`] (DynamoDB + SSM Parameter Store), one
//! folder each; a backend implements every trait above on one object. Each backend passes the
//! conformance suite in `tests/common/conformance.rs`. No backend ever logs a seed.

pub mod aws;
#[cfg(feature = "local")]
pub mod local;

mod decision;
mod error;
mod stores;
mod sweep;
mod traits;

pub use decision::{
    Change, CodeAsk, CodeOutcome, CompleteRecord, Decision, DecisionStore, DecisionView, Effect,
    ReplayMark, Verdict, WholeCodes,
};
pub use error::{StoreError, StoreResult};
pub use stores::Stores;
pub use sweep::{SweepStore, SweptRequest};
pub use traits::{AccessStore, AuditPage, AuditStore, CounterStore, SecretStore};
