//! When an audit question is about: a duration back from now (`7d`) or a date and time.

use anyhow::Context;

use crate::domain::{GrantDuration, Timestamp};

/// Parses a duration back from `now` or an absolute time.
pub(super) fn parse_when(text: &str, now: Timestamp, flag: &str) -> anyhow::Result<Timestamp> {
    if let Some(d) = GrantDuration::parse(text) {
        return Ok(now.plus_secs(-d.secs()));
    }
    Timestamp::parse(text).with_context(|| {
        format!("{flag} `{text}` is neither a duration like 7d nor a date like 2026-11-03")
    })
}
