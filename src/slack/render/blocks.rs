//! The Block Kit objects otpbot sends, typed, so that a message is serialised straight to its
//! bytes rather than built as a JSON tree first. Each field is named as in Slack's references:
//! the message payload (<https://docs.slack.dev/messaging/message-payloads> and the
//! `chat.postMessage` / `chat.update` method pages: `channel`, `ts`, `text`, `blocks`), the
//! slash-command and response-URL answer (<https://docs.slack.dev/interactivity/handling-user-interaction>:
//! `response_type`, `replace_original`), the section, actions and context blocks
//! (<https://docs.slack.dev/reference/block-kit/blocks>), the button element
//! (<https://docs.slack.dev/reference/block-kit/block-elements/button-element>) and the text
//! object (<https://docs.slack.dev/reference/block-kit/composition-objects/text-object>).

use serde::Serialize;

/// A message: an answer to a slash command or a click, or a `chat.postMessage` /
/// `chat.update` body.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    /// The conversation of a posted or updated message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The message a `chat.update` replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// `ephemeral` on an answer only its caller sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    /// `false` on an answer through a response URL that must not replace the message it came
    /// from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// The fallback text, for notifications.
    pub text: String,
    /// What is shown.
    pub blocks: Vec<Block>,
}

/// One layout block.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Section {
        /// The section's text.
        text: Mrkdwn,
    },
    /// Buttons.
    Actions {
        /// Up to 25 of them.
        elements: Vec<ButtonElement>,
    },
    /// Small print under the rest.
    Context {
        /// Its texts.
        elements: Vec<Mrkdwn>,
    },
}

/// A `mrkdwn` text object; `verbatim` keeps Slack from linking URLs, channel names and bare
/// `@here` in it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename = "mrkdwn")]
pub struct Mrkdwn {
    /// Escaped mrkdwn.
    pub text: String,
    /// Always `true` from otpbot.
    pub verbatim: bool,
}

/// A `plain_text` text object (a button's label).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename = "plain_text")]
pub struct PlainText {
    /// The label, shown as typed.
    pub text: String,
}

/// A button element.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename = "button")]
pub struct ButtonElement {
    /// Its label.
    pub text: PlainText,
    /// Which kind of button it is.
    pub action_id: String,
    /// What it acts on.
    pub value: String,
    /// `primary` or `danger`; the default look without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Each object serialises to the shape Slack's references give, tag included.
    #[test]
    fn objects_serialise_as_slack_documents_them() {
        let message = Message {
            channel: None,
            ts: None,
            response_type: Some("ephemeral"),
            replace_original: None,
            text: "fallback".into(),
            blocks: vec![
                Block::Section {
                    text: Mrkdwn {
                        text: "*hi*".into(),
                        verbatim: true,
                    },
                },
                Block::Actions {
                    elements: vec![ButtonElement {
                        text: PlainText { text: "Go".into() },
                        action_id: "a".into(),
                        value: "v".into(),
                        style: Some("primary"),
                    }],
                },
                Block::Context {
                    elements: vec![Mrkdwn {
                        text: "small".into(),
                        verbatim: true,
                    }],
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&message).expect("serialise"),
            json!({
                "response_type": "ephemeral",
                "text": "fallback",
                "blocks": [
                    { "type": "section", "text": { "type": "mrkdwn", "text": "*hi*", "verbatim": true } },
                    { "type": "actions", "elements": [{
                        "type": "button",
                        "text": { "type": "plain_text", "text": "Go" },
                        "action_id": "a",
                        "value": "v",
                        "style": "primary"
                    }] },
                    { "type": "context", "elements": [{ "type": "mrkdwn", "text": "small", "verbatim": true }] }
                ]
            })
        );
    }
}
