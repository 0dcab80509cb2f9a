//! Time-bound permission for one principal to get codes for one tool.

use super::clock::Timestamp;
use super::person::Person;
use super::principal::Principal;
use super::tool::ToolName;

/// A grant as stored. It may have expired: every read checks [`Grant::is_active`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who may get codes.
    pub principal: Principal,
    /// The person the principal is (see [`Person`]): on Slack Enterprise Grid the org's user.
    pub person: Person,
    /// For which tool.
    pub tool: ToolName,
    /// The admin (or operator) who granted it.
    pub granted_by: Principal,
    /// When it was granted.
    pub granted_at: Timestamp,
    /// When it stops working. Stores may delete expired grants late, or never.
    pub expires_at: Timestamp,
    /// Why, as the admin typed it.
    pub reason: Option<String>,
}

impl Grant {
    /// Whether the grant is still valid at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}
