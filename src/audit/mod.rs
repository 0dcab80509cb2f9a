//! Tamper evidence for the audit log: the canonical encoding of a record, the hash chain that
//! links the local store's records, the seals of the AWS backend's closed periods, and the
//! checks an auditor runs over them.

pub mod chain;
pub mod seal;
pub mod verify;
