//! Who is an admin by configuration, and the rate limits every request is held to. Set once at
//! start-up; the engine and the commands only read it.

use std::collections::HashSet;

use crate::domain::{Principal, Quota, RateLimit, ToolName};

/// Who is an admin by configuration, and the rate limits.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Principals that are admins whatever the store says (`OTPBOT_ADMINS`).
    pub bootstrap_admins: HashSet<Principal>,
    /// Codes per caller per tool.
    pub per_tool: RateLimit,
    /// Commands per caller, all commands together.
    pub per_caller: RateLimit,
    /// Access requests per caller.
    pub per_request: RateLimit,
    /// How long an access request stays open, in seconds.
    pub request_ttl_secs: i64,
}

impl Policy {
    /// The per-caller quota of `principal`.
    pub fn caller_quota(&self, principal: &Principal) -> Quota {
        Quota {
            key: format!("caller:{principal}"),
            limit: self.per_caller,
        }
    }

    /// The access-request quota of `principal`.
    pub fn request_quota(&self, principal: &Principal) -> Quota {
        Quota {
            key: format!("request:{principal}"),
            limit: self.per_request,
        }
    }

    /// The per-tool quota of `principal` for `tool`.
    pub fn tool_quota(&self, principal: &Principal, tool: &ToolName) -> Quota {
        Quota {
            key: format!("tool:{principal}:{tool}"),
            limit: self.per_tool,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            bootstrap_admins: HashSet::new(),
            per_tool: RateLimit {
                limit: 10,
                window_secs: 600,
            },
            per_caller: RateLimit {
                limit: 30,
                window_secs: 600,
            },
            per_request: RateLimit {
                limit: 5,
                window_secs: 3_600,
            },
            request_ttl_secs: 3_600,
        }
    }
}
