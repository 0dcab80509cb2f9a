//! A [`Button`] on Slack: its `action_id` and its `value`, written from [`Button::parts`] and
//! read back through [`Button::from_parts`], so a click is the same typed button again.
//!
//! Block Kit's button element takes `action_id` (at most 255 characters, "should be unique among
//! all other action_ids in the containing block") and `value` (at most 2 000 characters):
//! <https://docs.slack.dev/reference/block-kit/block-elements/button-element>. Slack refuses a
//! message whose actions block repeats an `action_id` (`invalid_blocks`), so the approval for a
//! shorter grant has an id of its own beside the plain approval's. The `value` is the button's
//! verb and data as JSON, e.g. `{"do":"approve","request":"…","for":"1h"}`: fields, never one
//! string to split.

use serde::{Deserialize, Serialize};

use crate::reply::{Button, Data, Verb};

/// Prefix of every action id otpbot writes.
const PREFIX: &str = "otp_";

#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "do")]
    verb: String,
    #[serde(flatten)]
    data: Data,
}

/// The `action_id` and `value` of `button`.
pub fn encode(button: &Button) -> (String, String) {
    let (verb, data) = button.parts();
    let action_id = action_id(verb, &data);
    let wire = Wire {
        verb: verb.name().to_owned(),
        data,
    };
    // Serializing plain strings cannot fail; an empty value would only be refused on click.
    (action_id, serde_json::to_string(&wire).unwrap_or_default())
}

/// The button a click's `action_id` and `value` stand for, when they are exactly what
/// [`encode`] writes for it.
pub fn decode(action_id: &str, value: &str) -> Option<Button> {
    let wire: Wire = serde_json::from_str(value).ok()?;
    let verb = Verb::named(&wire.verb)?;
    let button = Button::from_parts(verb, &wire.data)?;
    (self::action_id(verb, &wire.data) == action_id).then_some(button)
}

fn action_id(verb: Verb, data: &Data) -> String {
    match (verb, &data.shorter) {
        (Verb::Approve, Some(_)) => format!("{PREFIX}approve_for"),
        _ => format!("{PREFIX}{}", verb.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessRequestId, GrantDuration, ToolName};

    #[test]
    fn every_button_comes_back_from_a_click_as_itself() {
        let id = AccessRequestId::parse("0123456789abcdef").expect("id");
        let tool = ToolName::parse("github").expect("tool");
        let hour = GrantDuration::parse("1h").expect("1h");
        let buttons = [
            Button::RequestAccess(tool.clone()),
            Button::GetCode(tool),
            Button::Approve(id.clone(), None),
            Button::Approve(id.clone(), Some(hour)),
            Button::Deny(id.clone()),
            Button::Review(id.clone(), true),
            Button::Review(id, false),
        ];
        let mut ids = Vec::new();
        for button in buttons {
            let (action_id, value) = encode(&button);
            assert!(value.len() <= 2_000 && action_id.len() <= 255);
            assert_eq!(
                decode(&action_id, &value),
                Some(button),
                "{action_id} {value}"
            );
            ids.push(action_id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 7, "one action id per kind of button: {ids:?}");
    }

    #[test]
    fn a_value_is_never_split_or_read_under_another_action() {
        let (approve, value) = encode(&Button::Approve(
            AccessRequestId::parse("0123456789abcdef").expect("id"),
            None,
        ));
        for (action_id, value) in [
            (approve.as_str(), "0123456789abcdef 1h"),
            (approve.as_str(), "0123456789abcdef"),
            ("otp_deny", value.as_str()),
            ("otp_approve_for", value.as_str()),
            ("otp_grant_all", r#"{"do":"grant_all","tool":"github"}"#),
            (approve.as_str(), r#"{"do":"approve","request":"../x"}"#),
        ] {
            assert_eq!(decode(action_id, value), None, "{action_id} {value}");
        }
    }
}
