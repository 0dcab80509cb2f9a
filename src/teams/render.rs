//! Adaptive Card rendering of a [`Reply`], with a plain-text fallback.

use serde_json::{json, Value};

use crate::reply::{Reply, Tone};

fn text_block(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true })
}

/// Teams shows `<@id>` literally; otpbot's own mentions become `@id`.
fn plain(text: &str) -> String {
    text.replace("<@", "@").replace('>', "")
}

/// The message activity carrying the reply.
pub fn render(reply: &Reply) -> Value {
    let mut body = Vec::new();
    if let Some(card) = &reply.code {
        body.push(json!({ "type": "TextBlock", "text": card.tool_display, "weight": "Bolder", "size": "Medium" }));
        body.push(json!({ "type": "TextBlock", "text": card.code.expose(), "fontType": "Monospace", "size": "ExtraLarge", "weight": "Bolder" }));
        body.push(text_block(&format!("valid for {} s", card.valid_for_secs)));
        if let Some(next) = &card.next {
            body.push(text_block(&format!("next code: {}", next.expose())));
        }
    }
    for line in &reply.lines {
        body.push(text_block(&plain(line)));
    }
    let marker = match reply.tone {
        Tone::Info => "",
        Tone::Refusal => "Not done · ",
        Tone::Internal => "Error · ",
    };
    body.push(json!({ "type": "TextBlock", "text": format!("{marker}request id {}", reply.request_id), "isSubtle": true, "size": "Small", "wrap": true }));
    json!({
        "type": "message",
        "text": plain(&reply.plain_text()),
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

/// A short plain message (for notices in group chats and channels).
pub fn notice(text: &str) -> Value {
    json!({ "type": "message", "text": text })
}
