//! Who is asking: `{platform}:{workspace}:{user}`, e.g. `slack:T0123:U0456`.

use std::fmt;
use std::str::FromStr;

/// Where a principal comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// A Slack workspace; workspace = team id, user = user id.
    Slack,
    /// A Microsoft Teams tenant; workspace = tenant id, user = AAD object id.
    Teams,
    /// The operator's command line; workspace = host or `local`, user = OS user.
    Cli,
}

impl Platform {
    /// The lowercase prefix used in principals.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Cli => "cli",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "slack" => Some(Platform::Slack),
            "teams" => Some(Platform::Teams),
            "cli" => Some(Platform::Cli),
            _ => None,
        }
    }
}

/// Why a principal was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrincipalError {
    /// Not three `:`-separated parts with a known platform.
    #[error("`{0}` is not a principal like slack:T0123:U0456")]
    Malformed(String),
    /// A part holds characters outside `[A-Za-z0-9._-]` or is too long.
    #[error("`{0}` is not a valid workspace or user id")]
    BadPart(String),
}

/// A user on one platform in one workspace. Grants and roles are keyed by it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal(String);

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 64
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Principal {
    /// Builds a principal from its parts, checking each.
    pub fn new(platform: Platform, workspace: &str, user: &str) -> Result<Self, PrincipalError> {
        for part in [workspace, user] {
            if !valid_part(part) {
                return Err(PrincipalError::BadPart(part.chars().take(64).collect()));
            }
        }
        Ok(Self(format!("{}:{workspace}:{user}", platform.as_str())))
    }

    /// Parses `platform:workspace:user`.
    pub fn parse(text: &str) -> Result<Self, PrincipalError> {
        let mut parts = text.split(':');
        let (Some(p), Some(w), Some(u), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PrincipalError::Malformed(text.chars().take(100).collect()));
        };
        let platform = Platform::parse(p)
            .ok_or_else(|| PrincipalError::Malformed(text.chars().take(100).collect()))?;
        Self::new(platform, w, u)
    }

    /// The full `platform:workspace:user` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> (&str, &str, &str) {
        let mut it = self.0.splitn(3, ':');
        (
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
        )
    }

    /// The platform this principal belongs to.
    pub fn platform(&self) -> Platform {
        Platform::parse(self.parts().0).unwrap_or(Platform::Cli)
    }

    /// The workspace (Slack team id, Teams tenant id).
    pub fn workspace(&self) -> &str {
        self.parts().1
    }

    /// The user id within the workspace.
    pub fn user(&self) -> &str {
        self.parts().2
    }

    /// Another user of the same platform and workspace.
    pub fn sibling(&self, user: &str) -> Result<Self, PrincipalError> {
        Self::new(self.platform(), self.workspace(), user)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Principal {
    type Err = PrincipalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_splits() {
        let p = Principal::parse("slack:T0123:U0456").expect("valid");
        assert_eq!(
            (p.platform(), p.workspace(), p.user()),
            (Platform::Slack, "T0123", "U0456")
        );
        assert_eq!(p.sibling("U9").expect("valid").as_str(), "slack:T0123:U9");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "slack:T1",
            "slack:T1:U1:x",
            "irc:T1:U1",
            "slack:T1:U/1",
            "slack::U1",
            "slack:T1:Ü",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
