//! Access requests: a member asks for a grant, an approver decides once.

use super::approval::Approval;
use super::clock::Timestamp;
use super::duration::GrantDuration;
use super::person::Person;
use super::principal::Principal;
use super::tool::ToolName;
use super::tool_rules::ToolRules;

/// The id of an access request: the id of the chat request that opened it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessRequestId(String);

impl AccessRequestId {
    /// Accepts an id as typed or carried by a button: 1 to 64 ASCII letters, digits or `-`.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        ok.then(|| Self(text.to_owned()))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccessRequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for an approver (until the request's expiry).
    Open,
    /// Approved: the grant was made in the same transaction.
    Approved {
        /// The approver.
        by: Principal,
        /// When.
        at: Timestamp,
    },
    /// Denied.
    Denied {
        /// The approver who denied it.
        by: Principal,
        /// When.
        at: Timestamp,
    },
}

impl RequestState {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Approved { .. } => "approved",
            RequestState::Denied { .. } => "denied",
        }
    }
}

/// One access request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    /// Its id.
    pub id: AccessRequestId,
    /// Who asks.
    pub requester: Principal,
    /// The person who asks (see [`Person`]): nobody approves a request of their own.
    pub requester_person: Person,
    /// For what.
    pub tool: ToolName,
    /// For how long the grant would last.
    pub duration: GrantDuration,
    /// Why, as typed.
    pub reason: Option<String>,
    /// When it was made.
    pub requested_at: Timestamp,
    /// When it stops being decidable.
    pub expires_at: Timestamp,
    /// Where it stands.
    pub state: RequestState,
    /// Distinct approvals it needs (the tool's rule when it was made).
    pub approvals_required: u8,
    /// The approvals given so far, oldest first, while more are needed (two-person rule).
    pub approvals: Vec<Approval>,
    /// The requester's display name as their platform gave it when they asked (Teams'
    /// `from.name`), for the cards approvers read; `None` where the platform shows a user id by
    /// name itself (Slack) or gave none.
    pub requester_name: Option<String>,
    /// The decider's display name as their platform gave it (Teams), for what later clicks on
    /// the request are told; `None` as for [`AccessRequest::requester_name`].
    pub decided_by_name: Option<String>,
}

impl AccessRequest {
    /// Whether it is still open and unexpired at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state == RequestState::Open && now < self.expires_at
    }

    /// The approvals it needs under its tool's `rules`: its own number, or the rules' if that
    /// has since grown (lowering it does not ease requests already open).
    pub fn approvals_needed(&self, rules: &ToolRules) -> usize {
        usize::from(self.approvals_required.max(rules.approvals_required))
    }

    /// Whether an approval of it is counted (two-person rule) rather than deciding it alone.
    pub fn counts_approvals(&self, rules: &ToolRules) -> bool {
        self.approvals_needed(rules) > 1 || !self.approvals.is_empty()
    }
}
