//! Buttons: typed actions under a reply or a notice. A click comes back to otpbot carrying what
//! [`Button::parts`] gave the platform, and [`Button::from_parts`] turns it into the same
//! button again, checked; the command layer maps a button to the command it stands for
//! (`Command::from(Button)`), never through command text. So a button's arguments cannot be
//! read as anything but what they were written as: an approval for a shorter grant carries its
//! request id and its duration as two fields, not as one string to split.

use serde::{Deserialize, Serialize};

use crate::domain::{AccessRequestId, GrantDuration, ToolName};

/// What a button under a reply does when clicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Button {
    /// Ask the tool's approvers for access (`request <tool>`).
    RequestAccess(ToolName),
    /// Get the current code (`<tool>`).
    GetCode(ToolName),
    /// Approve an access request, for a shorter grant than asked when one is given
    /// (`approve <id> [for <dur>]`).
    Approve(AccessRequestId, Option<GrantDuration>),
    /// Deny an access request (`deny <id>`).
    Deny(AccessRequestId),
    /// Ask for more time on a grant that ends soon: a new request for the same tool
    /// (`request <tool>`), under the holder's expiry warning.
    MoreTime(ToolName),
    /// Review a break-glass: it looks right (`true`, `review <id> ok`) or its grant is revoked
    /// (`review <id> revoke`).
    Review(AccessRequestId, bool),
}

/// What a button does, by the name every platform carries it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// [`Button::RequestAccess`].
    Request,
    /// [`Button::GetCode`].
    Code,
    /// [`Button::Approve`].
    Approve,
    /// [`Button::Deny`].
    Deny,
    /// [`Button::MoreTime`].
    MoreTime,
    /// [`Button::Review`] that finds the break-glass right.
    ReviewOk,
    /// [`Button::Review`] that revokes the break-glass grant.
    ReviewRevoke,
}

impl Verb {
    /// Every verb.
    pub const ALL: [Verb; 7] = [
        Verb::Request,
        Verb::Code,
        Verb::Approve,
        Verb::Deny,
        Verb::MoreTime,
        Verb::ReviewOk,
        Verb::ReviewRevoke,
    ];

    /// The verb's name on the wire (Slack `action_id` and Teams `verb` are built from it).
    pub fn name(self) -> &'static str {
        match self {
            Verb::Request => "request",
            Verb::Code => "code",
            Verb::Approve => "approve",
            Verb::Deny => "deny",
            Verb::MoreTime => "more_time",
            Verb::ReviewOk => "review_ok",
            Verb::ReviewRevoke => "review_revoke",
        }
    }

    /// The verb named `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|verb| verb.name() == name)
    }
}

/// A button's arguments as a platform carries them (a Slack button's `value` as JSON, a Teams
/// `Action.Execute`'s `data`): only the fields its verb takes are set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    /// The access request an approval or denial decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The tool of a request or code button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The shorter grant an approval offers.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub shorter: Option<String>,
}

impl Button {
    /// The button's label.
    pub fn label(&self) -> String {
        match self {
            Button::RequestAccess(_) => "Request access".into(),
            Button::GetCode(_) => "Get code".into(),
            Button::Approve(_, None) => "Approve".into(),
            Button::Approve(_, Some(shorter)) => format!("Approve for {shorter}"),
            Button::Deny(_) => "Deny".into(),
            Button::MoreTime(_) => "Request more time".into(),
            Button::Review(_, true) => "Looks right".into(),
            Button::Review(_, false) => "Revoke".into(),
        }
    }

    /// What the button does and what it carries: the one encoding every platform uses, undone
    /// by [`Button::from_parts`].
    pub fn parts(&self) -> (Verb, Data) {
        let tool = |tool: &ToolName| Data {
            tool: Some(tool.to_string()),
            ..Data::default()
        };
        let request = |id: &AccessRequestId, shorter: Option<&GrantDuration>| Data {
            request: Some(id.to_string()),
            shorter: shorter.map(ToString::to_string),
            ..Data::default()
        };
        match self {
            Button::RequestAccess(t) => (Verb::Request, tool(t)),
            Button::GetCode(t) => (Verb::Code, tool(t)),
            Button::Approve(id, shorter) => (Verb::Approve, request(id, shorter.as_ref())),
            Button::Deny(id) => (Verb::Deny, request(id, None)),
            Button::MoreTime(t) => (Verb::MoreTime, tool(t)),
            Button::Review(id, true) => (Verb::ReviewOk, request(id, None)),
            Button::Review(id, false) => (Verb::ReviewRevoke, request(id, None)),
        }
    }

    /// The button `verb` and `data` stand for, when they are what [`Button::parts`] writes:
    /// each field well formed, none a verb does not take.
    pub fn from_parts(verb: Verb, data: &Data) -> Option<Self> {
        let tool = || match (&data.tool, &data.request, &data.shorter) {
            (Some(tool), None, None) => ToolName::parse(tool).ok(),
            _ => None,
        };
        let request = || match (&data.request, &data.tool) {
            (Some(id), None) => AccessRequestId::parse(id),
            _ => None,
        };
        match verb {
            Verb::Request => tool().map(Button::RequestAccess),
            Verb::Code => tool().map(Button::GetCode),
            Verb::Approve => {
                let shorter = match &data.shorter {
                    Some(d) => Some(GrantDuration::parse(d)?),
                    None => None,
                };
                request().map(|id| Button::Approve(id, shorter))
            }
            Verb::Deny if data.shorter.is_none() => request().map(Button::Deny),
            Verb::MoreTime => tool().map(Button::MoreTime),
            Verb::ReviewOk if data.shorter.is_none() => {
                request().map(|id| Button::Review(id, true))
            }
            Verb::ReviewRevoke if data.shorter.is_none() => {
                request().map(|id| Button::Review(id, false))
            }
            Verb::Deny | Verb::ReviewOk | Verb::ReviewRevoke => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_button() -> Vec<Button> {
        let id = AccessRequestId::parse("0123456789abcdef").expect("id");
        let tool = ToolName::parse("github").expect("tool");
        let hour = GrantDuration::parse("1h").expect("1h");
        vec![
            Button::RequestAccess(tool.clone()),
            Button::GetCode(tool.clone()),
            Button::MoreTime(tool),
            Button::Approve(id.clone(), None),
            Button::Approve(id.clone(), Some(hour)),
            Button::Deny(id.clone()),
            Button::Review(id.clone(), true),
            Button::Review(id, false),
        ]
    }

    #[test]
    fn every_button_comes_back_as_itself() {
        for button in every_button() {
            let (verb, data) = button.parts();
            let json = serde_json::to_string(&data).expect("json");
            let read: Data = serde_json::from_str(&json).expect("read");
            assert_eq!(
                Button::from_parts(Verb::named(verb.name()).expect("verb"), &read),
                Some(button.clone()),
                "{json}"
            );
        }
    }

    #[test]
    fn arguments_a_verb_does_not_take_are_refused() {
        let data = |json: &str| serde_json::from_str::<Data>(json).expect("data");
        for (verb, json) in [
            (Verb::Approve, r#"{"request": "0123456789abcdef 1h"}"#),
            (
                Verb::Approve,
                r#"{"request": "0123456789abcdef", "for": "forever"}"#,
            ),
            (Verb::Approve, r#"{"request": "0123", "tool": "github"}"#),
            (
                Verb::Deny,
                r#"{"request": "0123456789abcdef", "for": "1h"}"#,
            ),
            (Verb::Code, r#"{"tool": "github", "for": "1h"}"#),
            (Verb::Code, r#"{"tool": "../etc"}"#),
            (Verb::Request, r#"{}"#),
            (Verb::MoreTime, r#"{}"#),
            (Verb::MoreTime, r#"{"tool": "github", "for": "1w"}"#),
            (Verb::MoreTime, r#"{"tool": "github", "request": "0123"}"#),
            (Verb::MoreTime, r#"{"tool": "GitHub; revoke"}"#),
            (
                Verb::ReviewOk,
                r#"{"request": "0123456789abcdef", "for": "1h"}"#,
            ),
            (
                Verb::ReviewRevoke,
                r#"{"request": "0123456789abcdef", "tool": "aws"}"#,
            ),
            (Verb::ReviewOk, r#"{"request": "0123 ok"}"#),
            (Verb::ReviewRevoke, r#"{"tool": "aws-root"}"#),
        ] {
            assert_eq!(
                Button::from_parts(verb, &data(json)),
                None,
                "{verb:?} {json}"
            );
        }
        assert!(serde_json::from_str::<Data>(r#"{"tool": 7}"#).is_err());
    }
}
