//! One approval of an access request that needs several (the two-person rule): who gave it,
//! as which person, when, and for how long a grant.

use super::clock::Timestamp;
use super::duration::GrantDuration;
use super::person::Person;
use super::principal::Principal;

/// One approver's approval of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The approver.
    pub by: Principal,
    /// The person the approver is: one person counts once, in whichever workspace.
    pub person: Person,
    /// When.
    pub at: Timestamp,
    /// The grant this approver agreed to; where approvers chose different lengths, the
    /// shortest wins.
    pub duration: GrantDuration,
    /// The approver's display name as their platform gave it (Teams' `from.name`), for the
    /// cards that show the count; `None` where the platform shows a user id by name (Slack).
    pub name: Option<String>,
}
