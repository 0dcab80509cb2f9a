//! Tamper evidence for the audit log: the canonical encoding of a record, the keyed and the
//! unkeyed chains that link the local store's records, the seals of the AWS backend's closed
//! periods, signed checkpoints an outsider can hold, and the checks an auditor runs over them
//! (with the store and the audit key, or on an export with the public key alone).
//!
//! It never imports the stores: they use it.

pub mod chain;
pub mod checkpoint;
pub mod discrepancy;
pub mod export;
pub mod seal;
pub mod seal_check;
pub mod signing;
pub mod verify;
