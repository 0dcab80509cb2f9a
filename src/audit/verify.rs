//! The check of the local store's hash chain: recomputes each record's chain value in order and
//! names the first discrepancy in an auditor's words.

use std::fmt;

use super::chain::{canonical, link};
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;

/// One stored record with its position in the log and its stored chain value.
#[derive(Clone, Debug)]
pub struct Linked {
    /// Position in the log: 1, 2, 3, … in the order the records were committed.
    pub seq: i64,
    /// The record as stored.
    pub event: AuditEvent,
    /// Its stored chain value, if any.
    pub chain: Option<String>,
}

/// What a successful check covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: usize,
    /// Seals checked (the local store has none).
    pub seals: usize,
    /// Time of the first and the last record checked.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Records written before the chain existed, before the first chained one (not checked).
    pub unchained: usize,
    /// Records newer than the last seal (AWS): not yet sealed, so not checked.
    pub unsealed: usize,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ok: {} records, {} seals", self.records, self.seals)?;
        if let Some((from, to)) = self.span {
            write!(f, ", from {from} to {to}")?;
        }
        if self.unchained > 0 {
            write!(
                f,
                " ({} older records written before the chain existed were not checked)",
                self.unchained
            )?;
        }
        if self.unsealed > 0 {
            write!(
                f,
                "; {} newer records not yet sealed (not checked)",
                self.unsealed
            )?;
        }
        Ok(())
    }
}

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
            Self::ChainBroken { seq, id } => write!(
                f,
                "chain broken at record #{seq} (id {id}): its chain value is not the one written with it"
            ),
        }
    }
}

fn stored(row: &Linked) -> Option<&str> {
    row.chain.as_deref()
}

/// Checks `rows` (ordered by position). `anchor` is the chain value of the record before the
/// first row when the check starts mid-log (`--since`); `last_seq` the highest position the
/// store ever handed out, which reveals records removed from the end.
pub fn verify_chain(
    key: &AuditKey,
    rows: &[Linked],
    anchor: Option<(i64, Option<String>)>,
    last_seq: i64,
) -> Result<Verified, Discrepancy> {
    let computed = |prev: Option<&str>, row: &Linked| link(key, prev, &canonical(&row.event));
    // Records written before the chain existed lead the log, chain NULL.
    let unchained = if anchor.is_none() {
        rows.iter().take_while(|r| r.chain.is_none()).count()
    } else {
        0
    };
    let (mut prev_seq, mut prev) = match anchor {
        Some(anchor) => anchor,
        None if unchained > 0 => (rows[unchained - 1].seq, None),
        None => (0, None),
    };
    let checked = &rows[unchained..];
    for (i, row) in checked.iter().enumerate() {
        if row.seq != prev_seq + 1 {
            return Err(Discrepancy::RecordMissing {
                first: prev_seq + 1,
                last: row.seq - 1,
            });
        }
        let expected = computed(prev.as_deref(), row);
        if stored(row) != Some(expected.as_str()) {
            let id = row.event.id.to_string();
            let next = checked.get(i + 1);
            let next_links_after = |after: Option<&str>| {
                next.is_some_and(|n| stored(n) == Some(computed(after, n).as_str()))
            };
            let links_to_prev =
                |n: &&Linked| stored(n) == Some(computed(prev.as_deref(), n).as_str());
            if let Some(next) = next.filter(links_to_prev) {
                if stored(row) == Some(computed(stored(next), row).as_str()) {
                    return Err(Discrepancy::RecordsSwapped {
                        seq: row.seq,
                        ids: (id, next.event.id.to_string()),
                    });
                }
                return Err(Discrepancy::RecordInserted { seq: row.seq, id });
            }
            if next.is_none() || next_links_after(stored(row)) {
                return Err(Discrepancy::RecordAltered { seq: row.seq, id });
            }
            return Err(Discrepancy::ChainBroken { seq: row.seq, id });
        }
        prev_seq = row.seq;
        prev = Some(expected);
    }
    if last_seq > prev_seq {
        return Err(Discrepancy::RecordMissing {
            first: prev_seq + 1,
            last: last_seq,
        });
    }
    Ok(Verified {
        records: checked.len(),
        seals: 0,
        span: checked
            .first()
            .zip(checked.last())
            .map(|(a, b)| (a.event.at, b.event.at)),
        unchained,
        unsealed: 0,
    })
}
