//! Roles beyond plain membership.

use std::fmt;

/// A role a principal can hold. Members need no role; they need grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Grants and revokes access, manages roles, sees holders and the audit log.
    Admin,
    /// Reads the audit log, holders and the tool catalog; changes nothing.
    Auditor,
}

impl Role {
    /// The role's name as typed and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    /// Parses `admin` or `auditor` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles one principal holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    /// Holds [`Role::Admin`].
    pub admin: bool,
    /// Holds [`Role::Auditor`].
    pub auditor: bool,
}

impl Roles {
    /// Adds one role.
    pub fn with(mut self, role: Role) -> Self {
        match role {
            Role::Admin => self.admin = true,
            Role::Auditor => self.auditor = true,
        }
        self
    }
}
