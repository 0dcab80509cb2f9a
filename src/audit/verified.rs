//! What a check of the audit log covered when it found no discrepancy: the summary
//! `otpbot audit verify` prints, whichever log (a store's chains, its seals, an export) it
//! checked.

use std::fmt;

use crate::domain::Timestamp;

/// What a successful check covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// How the log compared with the checkpoints given; `None` when none was.
    pub checkpoints: Option<Matched>,
}

/// Checkpoints the log extends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    /// How many were given (all matched).
    pub count: usize,
    /// The time of the one vouching for the most records.
    pub newest: Timestamp,
    /// The records it vouches for.
    pub vouched: u64,
    /// Records of the log after those: no checkpoint given vouches for them yet.
    pub beyond: u64,
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
        if let Some(m) = &self.checkpoints {
            let given = match m.count {
                1 => "the checkpoint given".to_owned(),
                n => format!("all {n} checkpoints given"),
            };
            write!(
                f,
                "; extends {given}: the newest, of {}, vouches for the first {} records, and {} \
                 newer records are vouched for by none given",
                m.newest, m.vouched, m.beyond
            )?;
        }
        Ok(())
    }
}
