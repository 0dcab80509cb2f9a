//! The audit log's format and the checks an auditor runs over it: tamper evidence that does not
//! depend on where the log is stored. The stores use it to write their records, chains and
//! seals, and `otpbot audit verify` uses it to check them (with the store and the audit key, or
//! on an export with the public key alone).
//!
//! Format:
//! - [`record`]: a record's canonical encoding (the bytes every chain and seal hashes) and its
//!   position in the local store's log.
//! - [`jsonl`]: a record as JSON Lines, the export's and the sealed copies' format.
//! - [`chain`]: the keyed and the unkeyed chains that link records one by one.
//! - [`seal_format`]: the seals of the AWS backend's closed periods.
//! - [`checkpoint`]: signed checkpoints of the log's head an outsider can hold, and their
//!   comparison with a checked log; [`signing`]: the keys that sign them.
//!
//! Checks, each naming the first [`discrepancy`] or returning what it [`verified`]:
//! - [`chain_check`]: the local store's chains, record by record.
//! - [`seal_check`]: the AWS backend's seals, their locked copies and the table's records.
//! - [`export_check`]: an exported log, without the store or the audit key.
//!
//! It never imports the stores: they use it.

pub mod chain;
pub mod chain_check;
pub mod checkpoint;
pub mod discrepancy;
pub mod export_check;
pub mod jsonl;
pub mod record;
pub mod seal_check;
pub mod seal_format;
pub mod signing;
pub mod verified;
