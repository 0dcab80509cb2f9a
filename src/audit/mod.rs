//! Tamper evidence for the audit log: the canonical encoding of a record, the hash chain that
//! links the local store's records, and the check an auditor runs over it.

pub mod chain;
pub mod verify;
