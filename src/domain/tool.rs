//! Tools: the shared accounts otpbot hands codes for.

use std::fmt;
use std::str::FromStr;

use super::duration::GrantDuration;
use super::tool_rules::ToolRules;

/// Command words that can never be tool names, or `/otp <word>` would be ambiguous.
pub const RESERVED: &[&str] = &[
    "help",
    "list",
    "done",
    "grant",
    "revoke",
    "who",
    "tools",
    "tool",
    "role",
    "audit",
    "for",
    "since",
    "request",
    "approve",
    "deny",
    "break-glass",
    "review",
];

/// Why a tool name was rejected. Messages never echo more than a short, printable prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ToolNameError {
    /// Empty input.
    #[error("a tool name is needed")]
    Empty,
    /// Outside `^[a-z0-9][a-z0-9-]{0,31}$` after lower-casing.
    #[error("`{0}` is not a tool name: use 1-32 letters, digits and dashes, starting with a letter or digit")]
    Invalid(String),
    /// One of the command words.
    #[error("`{0}` is a command word and cannot be a tool name")]
    Reserved(String),
}

/// A validated tool name: lowercase `^[a-z0-9][a-z0-9-]{0,31}$`, not a command word. Safe to put
/// into an SSM parameter name or a file path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ToolName(String);

/// A short, printable rendering of untrusted input for error messages.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out.replace('`', "'")
}

impl ToolName {
    /// Lower-cases and checks `text`.
    pub fn parse(text: &str) -> Result<Self, ToolNameError> {
        if text.is_empty() {
            return Err(ToolNameError::Empty);
        }
        let lower = text.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        let valid = bytes.len() <= 32
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if !valid {
            return Err(ToolNameError::Invalid(shown(text)));
        }
        if RESERVED.contains(&lower.as_str()) {
            return Err(ToolNameError::Reserved(lower));
        }
        Ok(Self(lower))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ToolName {
    type Err = ToolNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A tool in the catalog. Its seed lives in the secret store, never here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool {
    /// The name typed in `/otp <name>`.
    pub name: ToolName,
    /// How people call it, e.g. "GitHub (org owner)".
    pub display_name: String,
    /// Grant length when `grant` names none.
    pub default_grant: GrantDuration,
    /// Longest grant an admin may give.
    pub max_grant: GrantDuration,
    /// A channel told of every code issued for the tool (never the code), if any.
    pub notify_channel: Option<String>,
    /// The channel access requests for the tool go to; approvers are messaged directly
    /// when there is none.
    pub approvals_channel: Option<String>,
    /// How many approvals a request needs, and whether the glass may be broken.
    pub rules: ToolRules,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        for (input, name) in [
            ("github", "github"),
            ("GitHub", "github"),
            ("aws-root", "aws-root"),
            ("9x", "9x"),
        ] {
            assert_eq!(
                ToolName::parse(input).expect(input).as_str(),
                name,
                "{input}"
            );
        }
        assert!(
            ToolName::parse(&"a".repeat(32)).is_ok(),
            "32 characters is the limit"
        );
    }

    #[test]
    fn rejects_hostile_names() {
        let long = "a".repeat(1024);
        for bad in [
            "",
            "../x",
            "GitHub/..",
            "-x",
            "a b",
            "a_b",
            "gïthub",
            "a\u{0}b",
            "a.b",
            &long,
            "x/../../y",
        ] {
            assert!(ToolName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            ToolName::parse("Grant"),
            Err(ToolNameError::Reserved("grant".into()))
        );
    }

    #[test]
    fn errors_never_echo_long_or_control_input() {
        let msg = ToolName::parse(&format!("{}\u{7}", "b".repeat(1024)))
            .unwrap_err()
            .to_string();
        assert!(msg.len() < 200, "message too long: {} bytes", msg.len());
        assert!(!msg.contains('\u{7}'));
    }
}
