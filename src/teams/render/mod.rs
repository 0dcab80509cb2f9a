//! Adaptive Card rendering of a [`Reply`]. Every piece of text passes through [`escape`]; the
//! code appears only inside the card body.
//!
//! Teams shows a message's `text` and `summary`, not the card, wherever it shows a message
//! outside the opened chat: the Bot Framework schema defines `summary` as "the text to display
//! if the channel cannot render cards" (botbuilder `Activity.Summary`), and Microsoft Graph's
//! `chatMessage.summary` as "summary text of the message that could be used for push
//! notifications and summary views or fall back views". So `text` and `summary` say only "Your
//! {tool} code is ready" (or, for other answers, the first line), never the code.

pub mod escape;

use serde_json::{json, Value};

use super::buttons;
use crate::reply::{Button, Notice, Reply, Tone, DISPLAY_NAME_LIMIT};

/// The Adaptive Card schema version: 1.4 introduced `Action.Execute` (Adaptive Cards schema
/// explorer, "Action.Execute", "Introduced in version 1.4":
/// <https://learn.microsoft.com/adaptive-cards/schema-explorer/action-execute>; Teams, "Work
/// with Universal Actions for Adaptive Cards", "Schema for Universal Actions").
pub const CARD_VERSION: &str = "1.4";

/// The attachment content type of an Adaptive Card, also the `type` of an invoke response that
/// carries one.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

fn text_block(text: String) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true })
}

/// The message activity carrying the reply.
pub fn render(reply: &Reply) -> Value {
    let mut body = Vec::new();
    if let Some(card) = &reply.code {
        body.push(json!({ "type": "TextBlock", "text": escape::block(&card.tool_display, DISPLAY_NAME_LIMIT), "weight": "Bolder", "size": "Medium", "wrap": true }));
        body.push(json!({ "type": "TextBlock", "text": card.code.expose(), "fontType": "Monospace", "size": "ExtraLarge", "weight": "Bolder" }));
        body.push(text_block(format!("valid for {} s", card.valid_for_secs)));
        if let Some(next) = &card.next {
            body.push(text_block(format!("next code: {}", next.expose())));
        }
    }
    for line in &reply.lines {
        body.push(text_block(escape::line(line)));
    }
    let marker = match reply.tone {
        Tone::Info => "",
        Tone::Refusal => "Not done · ",
        Tone::Internal => "Error · ",
    };
    body.push(json!({ "type": "TextBlock", "text": format!("{marker}request id {}", escape::text(reply.request_id.as_str(), 64)), "isSubtle": true, "size": "Small", "wrap": true }));
    let (text, summary) = match reply.code_ready() {
        Some(ready) => (escape::block(&ready, DISPLAY_NAME_LIMIT * 2), ready),
        None => reply
            .lines
            .first()
            .map(|line| (escape::line(line), escape::plain_line(line)))
            .unwrap_or_default(),
    };
    message(text, summary, card(body, &reply.buttons))
}

/// A message activity whose only attachment is `card`.
fn message(text: String, summary: String, card: Value) -> Value {
    json!({
        "type": "message",
        "text": text,
        "summary": summary,
        "attachments": [{ "contentType": CARD_CONTENT_TYPE, "content": card }]
    })
}

/// An Adaptive Card with `body` and one `Action.Execute` per button.
fn card(body: Vec<Value>, buttons: &[Button]) -> Value {
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body
    });
    if !buttons.is_empty() {
        card["actions"] = buttons.iter().map(action).collect();
    }
    card
}

/// A button as a Universal Action: `Action.Execute` with `title`, `verb` and `data` (schema
/// explorer, "Action.Execute" properties; `style` `positive`/`destructive` is the inherited
/// `ActionStyle`). A click comes back as an `adaptiveCard/action` invoke carrying the `verb`
/// and `data`, which the invoke handler reads back into the same button ([`Button::parts`] written
/// here, [`Button::from_parts`] there); the data names only the request or the tool.
fn action(button: &Button) -> Value {
    let (verb, data) = button.parts();
    let style = match button {
        Button::Approve(_, None) => Some("positive"),
        Button::Deny(_) | Button::Review(_, false) => Some("destructive"),
        Button::RequestAccess(_)
        | Button::GetCode(_)
        | Button::MoreTime(_)
        | Button::Approve(_, Some(_))
        | Button::Review(_, true) => None,
    };
    let mut action = json!({
        "type": "Action.Execute",
        "title": button.label(),
        "verb": buttons::verb(verb),
        "data": data
    });
    if let Some(style) = style {
        action["style"] = json!(style);
    }
    action
}

/// The card of a message activity built by [`render`] or [`notice_card`].
pub fn card_of(message: &Value) -> Value {
    message["attachments"][0]["content"].clone()
}

/// A message for others (an approvals channel, an approver, a requester): its lines as a card
/// with its buttons. `text` and `summary` carry the first line.
pub fn notice_card(notice: &Notice) -> Value {
    lines_card(&notice.lines, &notice.buttons)
}

/// A card of `lines` (reply-line rules: escaped, otpbot's own mentions shown) and `buttons`, as a
/// message activity.
pub fn lines_card(lines: &[String], buttons: &[Button]) -> Value {
    let body = lines
        .iter()
        .map(|line| text_block(escape::line(line)))
        .collect();
    let (text, summary) = lines
        .first()
        .map(|line| (escape::line(line), escape::plain_line(line)))
        .unwrap_or_default();
    message(text, summary, card(body, buttons))
}

/// A short plain message (for notices in group chats and channels); `text` is otpbot's own.
pub fn notice(text: &str) -> Value {
    json!({ "type": "message", "text": escape::text(text, 500) })
}

/// A card of one line of otpbot's own words, as a message activity.
pub fn text_card(text: &str) -> Value {
    lines_card(&[text.to_owned()], &[])
}
