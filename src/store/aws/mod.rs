//! The AWS backend: DynamoDB for the catalog, grants, roles, counters and the audit log; SSM
//! Parameter Store (SecureString under a customer-managed KMS key) for seeds.
//!
//! Every lookup is a `GetItem`, a `BatchGetItem` or a `Query` on a key or index; nothing here
//! ever scans a table. Each decision is one `TransactWriteItems` (see `decide.rs`), so concurrent
//! Lambda instances never race. Seeds and catalog entries are cached for a short time (seeds
//! wiped from memory when evicted); grants and roles never. An issued code at steady state costs
//! two DynamoDB round trips (one `BatchGetItem`, one `TransactWriteItems`) and no SSM call.
//! Nothing here logs a seed.
//!
//! Files, from the handle down (each only uses those below it):
//! - `handle.rs`: [`AwsStore`] (clients, settings, caches); `startup.rs`: what a Lambda does
//!   once at init.
//! - One file per store trait: `access.rs`, `secrets.rs` (seeds and secret settings in SSM),
//!   `audit_table.rs`, `counters.rs`, `decide.rs` (the one write path of a decision: what it
//!   reads is in `decision_reads.rs`, its transaction's items are planned in `plan.rs` and
//!   `plan_change.rs`, an access request's in `requests.rs`).
//! - Sealing closed audit periods (see [`crate::audit::seal_format`]): `sealing.rs` writes them,
//!   `sealed_periods.rs` reads them back for `otpbot audit verify`; `seal_table.rs` (the seals
//!   in the audit table), `object_lock.rs` (their locked copies in S3), `seal_settings.rs`;
//!   [`kms`]: the checkpoint key.
//! - Below everything: the items (`access_items.rs`, `item.rs`), where they live
//!   (`key_layout.rs`, [`schema`]), a transaction's parts (`transaction.rs`) and SDK errors
//!   (`sdk_error.rs`).

mod access;
mod access_items;
mod approval_items;
mod audit_table;
mod break_glass_items;
mod counters;
mod decide;
mod decision_reads;
mod handle;
mod item;
mod key_layout;
pub mod kms;
mod object_lock;
mod plan;
mod plan_change;
mod requests;
pub mod schema;
mod sdk_error;
mod seal_settings;
mod seal_table;
mod sealed_periods;
mod sealing;
mod secrets;
mod startup;
mod sweep;
mod transaction;

pub use handle::{AwsSettings, AwsStore};
pub use seal_settings::SealSettings;
pub use sealed_periods::SealedLog;
pub use startup::{check_limit, MAX_LIMIT, PARAMETERS_PER_CALL};
