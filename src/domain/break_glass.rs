//! Break-glass: in an incident, a person who may ask for a tool takes a short grant at once,
//! with a stated reason, and an approver reviews it afterwards.

use super::access_request::AccessRequestId;
use super::clock::Timestamp;
use super::person::Person;
use super::principal::Principal;
use super::tool::ToolName;

/// One break-glass: who took which tool when, why, until when; its review once given. Its id
/// is the id of the chat request that broke the glass, written like a request id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakGlass {
    /// Its id (`/otp review <id>`).
    pub id: AccessRequestId,
    /// Who broke the glass.
    pub breaker: Principal,
    /// The person who did: at most one break-glass per person and tool per period.
    pub person: Person,
    /// On which tool.
    pub tool: ToolName,
    /// Why, as typed (required).
    pub reason: String,
    /// When.
    pub at: Timestamp,
    /// When the grant it took ends.
    pub until: Timestamp,
    /// The review, once an approver gave it.
    pub review: Option<Review>,
}

/// An approver's review of a break-glass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// The approver.
    pub by: Principal,
    /// When.
    pub at: Timestamp,
    /// `true`: it looked right; `false`: the grant was revoked.
    pub ok: bool,
    /// Why, as typed.
    pub reason: Option<String>,
}
