//! What the sweep works with: where each copy of a request's approval message was posted (so
//! every copy can be updated later), and the marks that say a reminder, an expiry notice or a
//! grant's expiry warning went out, each at most once per item.

use serde::{Deserialize, Serialize};

use super::access_request::AccessRequestId;
use super::clock::Timestamp;
use super::principal::{Platform, Principal};
use super::tool::ToolName;

/// Longest stored message reference, in bytes: a Slack channel and `ts`, or a Teams service
/// URL, conversation id and activity id, are far shorter.
const MAX_REF: usize = 2_048;

/// Where one copy of a message was posted, as its platform needs it to update that copy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "lowercase")]
pub enum MessageRef {
    /// A Slack message: `chat.update` takes its `channel` and `ts`
    /// (<https://api.slack.com/methods/chat.update>).
    Slack {
        /// The channel (or direct message) id.
        channel: String,
        /// The message's timestamp id.
        ts: String,
    },
    /// A Teams activity: "Update activity" is `PUT {serviceUrl}/v3/conversations/{conversation}
    /// /activities/{activity}`
    /// (<https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#update-activity>).
    Teams {
        /// The service URL it was posted through.
        service_url: String,
        /// The conversation id.
        conversation: String,
        /// The activity id the Connector answered.
        activity: String,
    },
}

impl MessageRef {
    /// The platform the message is on.
    pub fn platform(&self) -> Platform {
        match self {
            MessageRef::Slack { .. } => Platform::Slack,
            MessageRef::Teams { .. } => Platform::Teams,
        }
    }

    /// The stored form (JSON), undone by [`MessageRef::parse`].
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored reference; `None` when it is not one (too long, or not what
    /// [`MessageRef::to_stored`] writes).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_REF {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// One thing the sweep does at most once, marked done by a conditional write in the same
/// transaction as its audit record, before its message goes out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepMark {
    /// An open request's approvers were reminded (only while it is open and unexpired).
    Reminded(AccessRequestId),
    /// A request that expired undecided had its messages updated and its requester told (only
    /// once it is expired and still undecided).
    ExpiryTold(AccessRequestId),
    /// A grant's holder was warned of its end (only while that very grant, ending at
    /// `expires_at`, is still there and unexpired: a renewed grant is warned again).
    GrantWarned {
        /// The holder.
        principal: Principal,
        /// The tool.
        tool: ToolName,
        /// The end of the grant that was warned about.
        expires_at: Timestamp,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_ref_comes_back_as_itself_and_junk_is_refused() {
        for r in [
            MessageRef::Slack {
                channel: "C0APPROVE".into(),
                ts: "1793700005.000100".into(),
            },
            MessageRef::Teams {
                service_url: "https://smba.trafficmanager.net/teams/".into(),
                conversation: "19:a|b@thread.tacv2".into(),
                activity: "1:abc".into(),
            },
        ] {
            assert_eq!(MessageRef::parse(&r.to_stored()), Some(r.clone()));
        }
        assert_eq!(MessageRef::parse("slack|C0|1"), None);
        assert_eq!(MessageRef::parse(r#"{"platform":"irc"}"#), None);
        assert_eq!(MessageRef::parse(&"x".repeat(MAX_REF + 1)), None);
    }
}
