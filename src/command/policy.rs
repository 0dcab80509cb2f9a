//! Who is an admin by configuration, and the rate limits every request is held to. Set once at
//! start-up; the engine and the commands only read it.

use std::collections::HashSet;

use crate::domain::{Person, Principal, Quota, RateLimit, ToolName};

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
    /// How long an access request stays undecided before the sweep reminds its approvers,
    /// once (`OTPBOT_REQUEST_REMIND_AFTER`), in seconds.
    pub remind_after_secs: i64,
    /// How long before a grant ends the sweep warns its holder, once
    /// (`OTPBOT_GRANT_EXPIRY_NOTICE`), in seconds.
    pub expiry_notice_secs: i64,
    /// The period in which one person may break the glass on one tool once, in seconds.
    pub break_glass_every_secs: i64,
    /// How long a chat request may take, its store work all counted together, before the
    /// caller is told to try again: inside Slack's 3 s, with time left to answer.
    pub deadline: std::time::Duration,
    /// How long a group's members, as read from its platform, are trusted, in seconds
    /// (`OTPBOT_GROUP_CACHE`; 0: read for every request).
    pub group_cache_secs: i64,
}

impl Policy {
    /// The per-caller quota of `person`: one person is one caller in every workspace of an
    /// Enterprise Grid org (SPEC §3.11).
    pub fn caller_quota(&self, person: &Person) -> Quota {
        Quota {
            key: format!("caller:{person}"),
            limit: self.per_caller,
        }
    }

    /// The access-request quota of `person`.
    pub fn request_quota(&self, person: &Person) -> Quota {
        Quota {
            key: format!("request:{person}"),
            limit: self.per_request,
        }
    }

    /// The per-tool quota of `person` for `tool`.
    pub fn tool_quota(&self, person: &Person, tool: &ToolName) -> Quota {
        Quota {
            key: format!("tool:{person}:{tool}"),
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
            remind_after_secs: 900,
            expiry_notice_secs: 3_600,
            break_glass_every_secs: 86_400,
            deadline: std::time::Duration::from_millis(2_500),
            group_cache_secs: 60,
        }
    }
}
