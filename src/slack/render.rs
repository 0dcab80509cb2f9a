//! Block Kit rendering of a [`Reply`]: always `"response_type": "ephemeral"`, with a fallback in
//! `text`. Every piece of text passes through [`escape`]; only otpbot's own mentions become
//! mentions.
//!
//! The code appears only inside the blocks, never in the top-level `text`: Slack's
//! `chat.postMessage` reference says that when blocks are included, `text` "will be used as
//! fallback text for notifications only", and mobile notifications show exactly that field. An
//! issued code's fallback is "Your {tool} code is ready". (Slack's changelog of 2026-07-13 says
//! desktop notifications now take text from blocks first; a slash command's ephemeral answer is
//! shown to the person who just typed it and is not a notification.)

pub mod escape;

use serde_json::{json, Value};

use crate::reply::{Reply, Tone, DISPLAY_NAME_LIMIT};

/// Slack's limit for one section's text.
const SECTION_LIMIT: usize = 3_000;

/// Longest fallback `text` sent (Slack truncates very long messages; notifications are short).
const FALLBACK_LIMIT: usize = 3_000;

/// A section with mrkdwn text. `verbatim: true` keeps Slack from auto-linking URLs and bare
/// `@here` or `#channel` in it (Block Kit "Text object": "When set to false (as is default)
/// URLs will be auto-converted into links, conversation names will be link-ified, and certain
/// mentions will be automatically parsed").
fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text, "verbatim": true } })
}

/// As many whole lines as fit in `limit` bytes, so no escape or mention is cut in half.
fn whole_lines(lines: &[String], limit: usize) -> String {
    let mut out = String::new();
    for line in lines {
        if out.len() + line.len() + 1 > limit {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// The JSON body Slack expects in answer to a slash command.
pub fn render(reply: &Reply) -> Value {
    let mut blocks = Vec::new();
    if let Some(card) = &reply.code {
        let mut text = format!(
            "*{}*\n`{}`  valid for {} s",
            escape::text(&card.tool_display, DISPLAY_NAME_LIMIT),
            card.code.expose(),
            card.valid_for_secs
        );
        if let Some(next) = &card.next {
            text.push_str(&format!("\nnext code: `{}`", next.expose()));
        }
        blocks.push(section(text));
    }
    let lines: Vec<String> = reply.lines.iter().map(|l| escape::line(l)).collect();
    let mut chunk = String::new();
    for line in &lines {
        if !chunk.is_empty() && chunk.len() + line.len() + 1 > SECTION_LIMIT {
            blocks.push(section(std::mem::take(&mut chunk)));
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.extend(line.chars().take(SECTION_LIMIT));
    }
    if !chunk.is_empty() {
        blocks.push(section(chunk));
    }
    let marker = match reply.tone {
        Tone::Info => "",
        Tone::Refusal => "Not done · ",
        Tone::Internal => "Error · ",
    };
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!("{marker}request id `{}`", escape::text(reply.request_id.as_str(), 64)),
            "verbatim": true
        }]
    }));
    blocks.truncate(50);
    let fallback = match reply.code_ready() {
        Some(ready) => escape::text(&ready, FALLBACK_LIMIT),
        None => whole_lines(&lines, FALLBACK_LIMIT),
    };
    json!({ "response_type": "ephemeral", "text": fallback, "blocks": blocks })
}
