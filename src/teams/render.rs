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

use crate::reply::{Reply, Tone, DISPLAY_NAME_LIMIT};

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
    json!({
        "type": "message",
        "text": text,
        "summary": summary,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body
            }
        }]
    })
}

/// A short plain message (for notices in group chats and channels); `text` is otpbot's own.
pub fn notice(text: &str) -> Value {
    json!({ "type": "message", "text": escape::text(text, 500) })
}
