//! Audit events: one per decision. They hold who, what, when, where and the outcome, plus an
//! HMAC of an issued code under the audit key. They never hold a code or a seed.

use std::fmt;

use super::clock::Timestamp;
use super::ids::{EventId, RequestId};
use super::principal::Principal;
use super::tool::ToolName;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What was asked for.
    Action {
        /// A code for a tool.
        Code => "code",
        /// A grant by an admin.
        Grant => "grant",
        /// A revocation by an admin.
        Revoke => "revoke",
        /// A member giving up their own grant.
        Done => "done",
        /// A role given.
        RoleAdd => "role_add",
        /// A role taken away.
        RoleRemove => "role_remove",
        /// A tool enrolled or changed.
        ToolAdd => "tool_add",
        /// A tool removed.
        ToolRemove => "tool_remove",
        /// A deployment secret (signing secret, audit key, client secret) was written.
        SecretSet => "secret_set",
        /// Current holders of a tool were listed.
        Who => "who",
        /// The tool catalog was listed.
        Tools => "tools",
        /// The audit log was read.
        Audit => "audit",
        /// A request refused before its command was looked at.
        Request => "request",
        /// A member asked for access to a tool.
        AccessRequest => "access_request",
        /// An approver approved an access request.
        Approve => "approve",
        /// An approver denied an access request.
        Deny => "deny",
        /// A per-tool approver was added or removed.
        ApproverSet => "approver_set",
        /// A person broke the glass: took a short grant at once, with a reason (and the code).
        BreakGlass => "break_glass",
        /// An approver reviewed a break-glass (and perhaps revoked its grant).
        Review => "review",
        /// The audit log's chain began: the first record every later one links back to.
        ChainStart => "chain_start",
        /// The sweep reminded the approvers of a request still open.
        Remind => "remind",
        /// The sweep told of a request that expired undecided (its messages, its requester).
        RequestExpire => "request_expire",
        /// The sweep warned a holder that their grant ends soon.
        ExpiryNotice => "expiry_notice",
    }
}

string_enum! {
    /// How it ended.
    Outcome {
        /// A code was issued.
        Issued => "issued",
        /// The action was carried out.
        Ok => "ok",
        /// The caller holds no grant for the tool.
        NoGrant => "no_grant",
        /// The caller's grant has expired.
        Expired => "expired",
        /// No such tool.
        UnknownTool => "unknown_tool",
        /// Too many requests.
        RateLimited => "rate_limited",
        /// The workspace or tenant is not allowed.
        BadWorkspace => "bad_workspace",
        /// The caller lacks the role.
        Forbidden => "forbidden",
        /// The request was well-formed but not acceptable (e.g. grant longer than allowed).
        Invalid => "invalid",
        /// An internal failure; no code was issued.
        Error => "error",
    }
}

/// One audited decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Time-sortable unique id.
    pub id: EventId,
    /// When the decision was made.
    pub at: Timestamp,
    /// The request it belongs to.
    pub request_id: RequestId,
    /// Who asked.
    pub actor: Principal,
    /// What was asked for.
    pub action: Action,
    /// The tool concerned, if any.
    pub tool: Option<ToolName>,
    /// The other principal concerned (grantee, revoked user, role holder), if any.
    pub subject: Option<Principal>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short detail: grant length and reason, role name, delivery route. Never a secret.
    pub detail: Option<String>,
    /// The channel or conversation the request came from.
    pub channel: Option<String>,
    /// Hex HMAC-SHA256 of the issued code under the audit key, for issued codes; when the reply
    /// also showed the next code, its MAC follows after a comma.
    pub code_mac: Option<String>,
}

/// A filter over the audit log. Results come newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events about this tool.
    pub tool: Option<ToolName>,
    /// Only events by this actor.
    pub actor: Option<Principal>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// Continue after this event id (exclusive), for paging newest first.
    pub before_id: Option<EventId>,
    /// At most this many events per page.
    pub limit: usize,
}
