//! Grant durations as people type them: `30m`, `8h`, `7d`, `2w`.

use std::fmt;
use std::str::FromStr;

/// A positive duration written with one unit, at most one year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantDuration(i64);

const MAX_SECS: i64 = 366 * 86_400;

impl GrantDuration {
    /// A duration of `secs` seconds; `None` unless `0 < secs <= 1 year`.
    pub fn from_secs(secs: i64) -> Option<Self> {
        (secs > 0 && secs <= MAX_SECS).then_some(Self(secs))
    }

    /// Length in seconds.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// Parses `<n>m`, `<n>h`, `<n>d` or `<n>w`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let split = text.len().checked_sub(1)?;
        if !text.is_char_boundary(split) {
            return None;
        }
        let (digits, unit) = text.split_at(split);
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        let unit_secs = match unit {
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return None,
        };
        Self::from_secs(n.checked_mul(unit_secs)?)
    }
}

impl FromStr for GrantDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| format!("`{s}` is not a duration like 30m, 8h, 7d or 2w"))
    }
}

impl fmt::Display for GrantDuration {
    /// The largest unit that divides evenly, so `parse(display(d)) == d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        for (unit, len) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s % len == 0 {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_round_trips() {
        let table = [
            ("30m", 1_800, "30m"),
            ("8h", 28_800, "8h"),
            ("7d", 604_800, "1w"),
            ("2w", 1_209_600, "2w"),
            ("90m", 5_400, "90m"),
            ("24h", 86_400, "1d"),
        ];
        for (text, secs, shown) in table {
            let d = GrantDuration::parse(text).unwrap_or_else(|| panic!("{text} should parse"));
            assert_eq!(d.secs(), secs, "{text}");
            assert_eq!(d.to_string(), shown, "{text}");
            assert_eq!(
                GrantDuration::parse(shown),
                Some(d),
                "{shown} should parse back"
            );
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "h",
            "0h",
            "-1h",
            "1.5h",
            "8 h",
            "8x",
            "99999999d",
            "53w",
            "8hh",
            "８h",
            "é",
        ] {
            assert!(
                GrantDuration::parse(bad).is_none(),
                "{bad:?} should be rejected"
            );
        }
    }
}
