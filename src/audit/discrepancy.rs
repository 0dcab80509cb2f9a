//! What a check of the audit log reports when the log is not what otpbot wrote: the first
//! discrepancy, in words an auditor can act on.

use std::fmt;

use crate::domain::Timestamp;

/// The first discrepancy found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// Records with these positions are absent.
    RecordMissing {
        /// First absent position.
        first: i64,
        /// Last absent position.
        last: i64,
    },
    /// The record's fields are not those it was written with.
    RecordAltered {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// The record was never written by otpbot: the chain runs around it.
    RecordInserted {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// Two neighbouring records were exchanged.
    RecordsSwapped {
        /// The first position.
        seq: i64,
        /// Ids at `seq` and `seq + 1`.
        ids: (String, String),
    },
    /// A record of a sealed period's locked copy is absent from the log.
    SealedRecordMissing {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// A record in the log lies in a sealed period whose seal does not hold it.
    RecordInsertedIntoSeal {
        /// Its id.
        id: String,
        /// The sealed period.
        from: Timestamp,
        /// Its end.
        to: Timestamp,
    },
    /// A record in the log is older than the first sealed period, which starts at the oldest
    /// record otpbot wrote.
    RecordOutsideSeals {
        /// Its id.
        id: String,
    },
    /// The seal of a period is absent, or one was taken away between two seals.
    SealMissing {
        /// Where the missing seal's period starts.
        from: Timestamp,
        /// Where the next seal starts.
        to: Timestamp,
    },
    /// A seal is not the one otpbot wrote, or does not match its locked copy.
    SealAltered {
        /// Its period's start.
        from: Timestamp,
        /// Its period's end.
        to: Timestamp,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The record the chain begins with is absent from a store whose schema has it.
    ChainStartMissing,
    /// The log holds no record, but the store shows it had some.
    LogEmptied {
        /// Positions the store handed out.
        positions: i64,
    },
    /// A record after the chain start carries no link, so nothing vouches for it.
    Unlinked {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// The unkeyed hash stored with a record is not the one its records compute.
    HashBroken {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// Records lie in periods that should have been sealed by now (AWS).
    SealingBehind {
        /// How many.
        count: usize,
        /// The oldest one's time.
        oldest: Timestamp,
        /// When its period should have been sealed.
        due: Timestamp,
    },
    /// A line of an exported log is not a record otpbot writes.
    LineUnreadable {
        /// Its line number, from 1.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
    /// A checkpoint's signature does not verify with the public key given.
    CheckpointNotGenuine {
        /// Where it came from (a file name).
        source: String,
        /// Its time.
        time: Timestamp,
    },
    /// The log holds fewer records than a checkpoint vouches for: its tail was cut off.
    TailCut {
        /// The checkpoint's time.
        time: Timestamp,
        /// The records it vouches for.
        records: u64,
        /// The records the log holds (from its chain start).
        have: u64,
    },
    /// The log's first records are not those a checkpoint vouches for.
    HistoryRewritten {
        /// The checkpoint's time.
        time: Timestamp,
        /// The records it vouches for.
        records: u64,
    },
    /// The chain value stored with the record is not the one written with it.
    ChainBroken {
        /// Its position.
        seq: i64,
        /// Its id.
        id: String,
    },
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RecordMissing { .. }
            | Self::RecordAltered { .. }
            | Self::RecordInserted { .. }
            | Self::RecordsSwapped { .. }
            | Self::SealedRecordMissing { .. }
            | Self::RecordInsertedIntoSeal { .. }
            | Self::RecordOutsideSeals { .. } => self.fmt_records(f),
            Self::SealMissing { .. } | Self::SealAltered { .. } | Self::SealingBehind { .. } => {
                self.fmt_seals(f)
            }
            Self::ChainStartMissing
            | Self::LogEmptied { .. }
            | Self::Unlinked { .. }
            | Self::HashBroken { .. }
            | Self::ChainBroken { .. }
            | Self::LineUnreadable { .. } => self.fmt_chain(f),
            Self::CheckpointNotGenuine { .. }
            | Self::TailCut { .. }
            | Self::HistoryRewritten { .. } => self.fmt_checkpoints(f),
        }
    }
}

impl Discrepancy {
    /// A record is missing, altered, inserted or out of place.
    fn fmt_records(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RecordMissing { first, last } if first == last => write!(
                f,
                "record missing: record #{first} has been removed from the log"
            ),
            Self::RecordMissing { first, last } => write!(
                f,
                "record missing: records #{first} to #{last} have been removed from the log"
            ),
            Self::RecordAltered { seq, id } => write!(
                f,
                "record altered: record #{seq} (id {id}) no longer holds what was written"
            ),
            Self::RecordInserted { seq, id } => write!(
                f,
                "record inserted: record #{seq} (id {id}) was not written by otpbot"
            ),
            Self::RecordsSwapped { seq, ids } => write!(
                f,
                "records reordered: records #{seq} (id {}) and #{} (id {}) have been swapped",
                ids.0,
                seq + 1,
                ids.1
            ),
            Self::SealedRecordMissing { seq, id } => write!(
                f,
                "record missing: record #{seq} (id {id}) is in its period's sealed copy but has been removed from the log"
            ),
            Self::RecordInsertedIntoSeal { id, from, to } => write!(
                f,
                "record inserted into a sealed period: record id {id} is not in the seal of {from} to {to}"
            ),
            Self::RecordOutsideSeals { id } => write!(
                f,
                "record inserted into a sealed period: record id {id} is older than the first seal"
            ),
            // The other variants are told by the other groups (see `fmt`).
            _ => Ok(()),
        }
    }

    /// A seal is missing or altered, or sealing is behind.
    fn fmt_seals(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SealMissing { from, to } if from == to => write!(
                f,
                "seal missing: the seal of the period before {to} has been removed"
            ),
            Self::SealMissing { from, to } => write!(
                f,
                "seal missing: the seal of the period {from} to {to} has been removed"
            ),
            Self::SealAltered { from, to, what } => {
                write!(f, "seal altered: the seal of {from} to {to} {what}")
            }
            Self::SealingBehind { count, oldest, due } => write!(
                f,
                "records not sealed: {count} records from {oldest} on lie in periods that should \
                 have been sealed by {due}; sealing has stopped or fallen behind, so nothing \
                 vouches for them"
            ),
            // The other variants are told by the other groups (see `fmt`).
            _ => Ok(()),
        }
    }

    /// A chain does not hold: its start, a link or a hash, or a line of an export.
    fn fmt_chain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChainStartMissing => write!(
                f,
                "chain start missing: the record the audit chain begins with has been removed \
                 (every log of this schema begins its chain with a chain_start record)"
            ),
            Self::LogEmptied { positions } => write!(
                f,
                "log emptied: the log holds no record, but the store handed out {positions} \
                 positions"
            ),
            Self::Unlinked { seq, id } => write!(
                f,
                "record not linked: record #{seq} (id {id}) carries no chain value, so nothing \
                 vouches for it; every record after the chain start is linked when written"
            ),
            Self::HashBroken { seq, id } => write!(
                f,
                "hash altered: the hash stored with record #{seq} (id {id}) is not the one \
                 computed from the records up to it"
            ),
            Self::LineUnreadable { line, what } => write!(
                f,
                "record altered: line {line} of the export is not an audit record otpbot writes \
                 ({what})"
            ),
            Self::ChainBroken { seq, id } => write!(
                f,
                "chain broken at record #{seq} (id {id}): its chain value is not the one written with it"
            ),
            // The other variants are told by the other groups (see `fmt`).
            _ => Ok(()),
        }
    }

    /// A checkpoint does not match the log.
    fn fmt_checkpoints(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CheckpointNotGenuine { source, time } => write!(
                f,
                "checkpoint not genuine: the checkpoint of {time} in {source} does not carry a \
                 valid signature of the given public key"
            ),
            Self::TailCut {
                time,
                records,
                have,
            } => write!(
                f,
                "log cut off: the checkpoint of {time} vouches for {records} records, but the \
                 log holds only {have}; its newest records have been removed"
            ),
            Self::HistoryRewritten { time, records } => write!(
                f,
                "history rewritten: the log's first {records} records are not the ones the \
                 checkpoint of {time} vouches for"
            ),
            // The other variants are told by the other groups (see `fmt`).
            _ => Ok(()),
        }
    }
}
