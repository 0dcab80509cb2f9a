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
    /// A Slack user group (`S…`) of one workspace: a subject of grants and approver roles,
    /// never a caller; its members are Slack users of that workspace.
    SlackGroup,
    /// A Microsoft Entra ID group of one tenant, by object id: a subject of grants and
    /// approver roles, never a caller; its members are Teams users of that tenant.
    EntraGroup,
}

impl Platform {
    /// The lowercase prefix used in principals.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Cli => "cli",
            Platform::SlackGroup => "slack-group",
            Platform::EntraGroup => "entra-group",
        }
    }

    /// For a group, the platform its members use; `None` for a platform of users.
    pub fn members_on(self) -> Option<Platform> {
        match self {
            Platform::SlackGroup => Some(Platform::Slack),
            Platform::EntraGroup => Some(Platform::Teams),
            Platform::Slack | Platform::Teams | Platform::Cli => None,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "slack" => Some(Platform::Slack),
            "teams" => Some(Platform::Teams),
            "cli" => Some(Platform::Cli),
            "slack-group" => Some(Platform::SlackGroup),
            "entra-group" => Some(Platform::EntraGroup),
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
    /// Typed by a person, not in the form the platform itself uses.
    #[error("`{given}` is not a {platform} principal: expected {expected}")]
    NotAsPlatformWrites {
        /// What was typed (shortened).
        given: String,
        /// `Slack` or `Teams`.
        platform: &'static str,
        /// The expected form, with an example.
        expected: &'static str,
    },
    /// Typed by a person, and not `platform:workspace:user` at all.
    #[error(
        "`{0}` is not a principal: write {SLACK_FORM}, or {TEAMS_FORM}; for a group \
             slack-group:T…:S… or entra-group:<tenant id>:<group object id>"
    )]
    NotAPrincipal(String),
}

/// What a Slack principal looks like: Slack's ids are upper case, team ids start with `T`
/// (`E` for an Enterprise Grid org), user ids with `U` (`W` on Enterprise Grid).
const SLACK_FORM: &str = "slack:T…:U… with the ids exactly as Slack shows them (upper case), \
                          e.g. slack:T0123ABCD:U0456EFGH";
/// What a Teams principal looks like: the Entra tenant id and the user's object id.
const TEAMS_FORM: &str = "teams:<tenant id>:<user's Entra object id>, both GUIDs like \
                          72f988bf-86f1-41af-91ab-2d7cd011db47";

/// What a Slack user group looks like: the workspace's team id and the group's id (`S…`), as
/// Slack writes them in a group mention (`<!subteam^S0123ABC>`).
const SLACK_GROUP_FORM: &str = "slack-group:T…:S… with the ids exactly as Slack shows them \
                                (upper case), e.g. slack-group:T0123ABCD:S0123ABC";
/// What an Entra ID group looks like: the tenant id and the group's object id.
const ENTRA_GROUP_FORM: &str = "entra-group:<tenant id>:<group object id>, both GUIDs like \
                                72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The ids the Microsoft 365 Agents Playground (0.2.28) uses for its tenant and user, which
/// are not GUIDs (13 digits in the last group).
const PLAYGROUND_IDS: [&str; 2] = [
    "00000000-0000-0000-0000-0000000000001",
    "00000000-0000-0000-0000-0000000000020",
];

fn slack_id(part: &str, first: &[u8]) -> bool {
    part.len() >= 2
        && first.contains(&part.as_bytes()[0])
        && part
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn guid(part: &str) -> bool {
    let groups: Vec<&str> = part.split('-').collect();
    PLAYGROUND_IDS.contains(&part)
        || (groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())))
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

    /// Parses a principal a person typed (command line, settings, chat arguments), holding it
    /// to the form its platform writes: Slack ids in Slack's upper case, Teams ids as GUIDs
    /// (lower-cased, as Teams sends them). Stored principals are read with [`Principal::parse`].
    pub fn parse_input(text: &str) -> Result<Self, PrincipalError> {
        let given = || text.chars().take(100).collect::<String>();
        let principal = Self::parse(text).map_err(|_| PrincipalError::NotAPrincipal(given()))?;
        match principal.platform() {
            Platform::Slack => {
                if slack_id(principal.workspace(), b"TE") && slack_id(principal.user(), b"UW") {
                    Ok(principal)
                } else {
                    Err(PrincipalError::NotAsPlatformWrites {
                        given: given(),
                        platform: "Slack",
                        expected: SLACK_FORM,
                    })
                }
            }
            Platform::SlackGroup => {
                if slack_id(principal.workspace(), b"TE") && slack_id(principal.user(), b"S") {
                    Ok(principal)
                } else {
                    Err(PrincipalError::NotAsPlatformWrites {
                        given: given(),
                        platform: "Slack user group",
                        expected: SLACK_GROUP_FORM,
                    })
                }
            }
            Platform::EntraGroup => {
                let (tenant, group) = (
                    principal.workspace().to_ascii_lowercase(),
                    principal.user().to_ascii_lowercase(),
                );
                if guid(&tenant) && guid(&group) {
                    Self::new(Platform::EntraGroup, &tenant, &group)
                } else {
                    Err(PrincipalError::NotAsPlatformWrites {
                        given: given(),
                        platform: "Entra ID group",
                        expected: ENTRA_GROUP_FORM,
                    })
                }
            }
            Platform::Teams => {
                let (tenant, user) = (
                    principal.workspace().to_ascii_lowercase(),
                    principal.user().to_ascii_lowercase(),
                );
                if guid(&tenant) && guid(&user) {
                    Self::new(Platform::Teams, &tenant, &user)
                } else {
                    Err(PrincipalError::NotAsPlatformWrites {
                        given: given(),
                        platform: "Teams",
                        expected: TEAMS_FORM,
                    })
                }
            }
            Platform::Cli => Ok(principal),
        }
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

    /// Whether this is a group (a Slack user group, an Entra ID group) rather than a user.
    pub fn is_group(&self) -> bool {
        self.platform().members_on().is_some()
    }

    /// Whether `user` could be a member of this group: a user of the group's members'
    /// platform in the group's own workspace or tenant. A group of another workspace or
    /// tenant never counts, whoever its members are.
    pub fn may_contain(&self, user: &Principal) -> bool {
        self.platform().members_on() == Some(user.platform())
            && self.workspace() == user.workspace()
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
    /// As typed by a person: [`Principal::parse_input`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_input(s)
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
    fn typed_principals_take_the_platform_s_own_form() {
        for good in [
            "slack:T0123ABCD:U0456EFGH",
            "slack:E0123:W0456",
            "teams:72f988bf-86f1-41af-91ab-2d7cd011db47:0b8b7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "teams:00000000-0000-0000-0000-0000000000001:00000000-0000-0000-0000-0000000000020",
            "cli:local:ops",
        ] {
            assert_eq!(Principal::parse_input(good).expect(good).as_str(), good);
        }
        let upper =
            "teams:72F988BF-86F1-41AF-91AB-2D7CD011DB47:0B8B7F8E-1C2D-4E5F-8A9B-0C1D2E3F4A5B";
        assert_eq!(
            Principal::parse_input(upper)
                .expect("upper case GUIDs")
                .as_str(),
            upper.to_ascii_lowercase(),
            "Teams sends lower-case GUIDs"
        );
        for (bad, hint) in [
            ("slack:t0123:u0456", "slack:T…:U…"),
            ("slack:T0123:alice", "slack:T…:U…"),
            ("slack:U0456:T0123", "slack:T…:U…"),
            ("teams:contoso:alice", "GUIDs like"),
            ("teams:72f988bf-86f1-41af-91ab:0b8b7f8e", "GUIDs like"),
        ] {
            let err = Principal::parse_input(bad).expect_err(bad).to_string();
            assert!(err.contains(bad) && err.contains(hint), "{err}");
        }
        assert!(
            Principal::parse("slack:t1:u1").is_ok(),
            "stored principals are read as written"
        );
    }

    #[test]
    fn a_group_is_typed_in_its_platform_s_form_and_contains_only_its_own_workspace() {
        let group = Principal::parse_input("slack-group:T0123:S0456ABC").expect("slack group");
        assert!(group.is_group());
        assert!(group.may_contain(&Principal::parse("slack:T0123:U1").expect("user")));
        assert!(!group.may_contain(&Principal::parse("slack:T9999:U1").expect("elsewhere")));
        assert!(!group.may_contain(&Principal::parse("teams:T0123:U1").expect("teams")));
        let entra = Principal::parse_input(
            "entra-group:72F988BF-86F1-41AF-91AB-2D7CD011DB47:0B8B7F8E-1C2D-4E5F-8A9B-0C1D2E3F4A5B",
        )
        .expect("entra group");
        assert_eq!(
            entra.as_str(),
            "entra-group:72f988bf-86f1-41af-91ab-2d7cd011db47:0b8b7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
        );
        for bad in [
            "slack-group:T0123:U0456",
            "slack-group:t0123:s0456",
            "entra-group:contoso:admins",
        ] {
            assert!(Principal::parse_input(bad).is_err(), "{bad}");
        }
        assert!(!Principal::parse("slack:T1:U1").expect("user").is_group());
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
