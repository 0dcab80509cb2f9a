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

pub mod blocks;
pub mod escape;

use self::blocks::{Block, ButtonElement, Message, Mrkdwn, PlainText};
use super::buttons;
use crate::reply::{Button, Reply, Tone, DISPLAY_NAME_LIMIT};

/// A Block Kit button: `text` (plain_text), `action_id` and `value` (see [`buttons`]), and an
/// optional `style` (`primary`, `danger`) (Block Kit reference, "Button element":
/// <https://docs.slack.dev/reference/block-kit/block-elements/button-element>). The action id
/// and value say which button was clicked; the interaction handler reads them back into the
/// same typed button and runs the command it stands for, for the clicking user.
fn button(b: &Button) -> ButtonElement {
    let (action_id, value) = buttons::encode(b);
    let style = match b {
        Button::GetCode(_) | Button::Approve(_, None) => Some("primary"),
        Button::Deny(_) | Button::Review(_, false) => Some("danger"),
        Button::RequestAccess(_)
        | Button::MoreTime(_)
        | Button::Approve(_, Some(_))
        | Button::Review(_, true) => None,
    };
    ButtonElement {
        text: PlainText { text: b.label() },
        action_id,
        value,
        style,
    }
}

/// Slack's limit for one section's text.
const SECTION_LIMIT: usize = 3_000;

/// Longest fallback `text` sent (Slack truncates very long messages; notifications are short).
const FALLBACK_LIMIT: usize = 3_000;

/// A section with mrkdwn text. `verbatim: true` keeps Slack from auto-linking URLs and bare
/// `@here` or `#channel` in it (Block Kit "Text object": "When set to false (as is default)
/// URLs will be auto-converted into links, conversation names will be link-ified, and certain
/// mentions will be automatically parsed").
fn section(text: String) -> Block {
    Block::Section { text: mrkdwn(text) }
}

/// A `mrkdwn` text object, verbatim (see [`section`]).
fn mrkdwn(text: String) -> Mrkdwn {
    Mrkdwn {
        text,
        verbatim: true,
    }
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

/// The `chat.postMessage` body of `notice` for `channel` (its own channel, or the direct
/// message opened for its person).
pub fn notice(channel: &str, notice: &crate::reply::Notice) -> Message {
    message(channel, &notice.lines, &notice.buttons)
}

/// A message of `lines` and `buttons` for `channel` (a `chat.postMessage` body, or with `ts` a
/// `chat.update` one): the escaped lines as the fallback `text` and in a section, and the
/// buttons in an actions block.
pub fn message(channel: &str, lines: &[String], buttons: &[Button]) -> Message {
    let lines: Vec<String> = lines.iter().map(|l| escape::line(l)).collect();
    let text = whole_lines(&lines, SECTION_LIMIT);
    let mut blocks = vec![section(text.clone())];
    if !buttons.is_empty() {
        blocks.push(actions(buttons));
    }
    Message {
        channel: Some(channel.to_owned()),
        ts: None,
        response_type: None,
        replace_original: None,
        text,
        blocks,
    }
}

/// An actions block of `buttons`: up to 25 interactive elements (Block Kit reference, "Actions
/// block": <https://docs.slack.dev/reference/block-kit/blocks/actions-block>).
fn actions(buttons: &[Button]) -> Block {
    Block::Actions {
        elements: buttons.iter().take(25).map(button).collect(),
    }
}

/// A few words of otpbot's own, told to someone privately through a response URL.
pub fn ephemeral(line: &str) -> Message {
    let text = escape::line(line);
    Message {
        channel: None,
        ts: None,
        response_type: Some("ephemeral"),
        replace_original: Some(false),
        blocks: vec![section(text.clone())],
        text,
    }
}

/// Escaped `lines` as sections of at most [`SECTION_LIMIT`] bytes each, whole lines to a
/// section where they fit.
fn sections(lines: &[String]) -> Vec<Block> {
    let mut sections = Vec::new();
    let mut chunk = String::new();
    for line in lines {
        if !chunk.is_empty() && chunk.len() + line.len() + 1 > SECTION_LIMIT {
            sections.push(section(std::mem::take(&mut chunk)));
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.extend(line.chars().take(SECTION_LIMIT));
    }
    if !chunk.is_empty() {
        sections.push(section(chunk));
    }
    sections
}

/// The JSON body Slack expects in answer to a slash command.
pub fn render(reply: &Reply) -> Message {
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
    blocks.extend(sections(&lines));
    if !reply.buttons.is_empty() {
        blocks.push(actions(&reply.buttons));
    }
    let marker = match reply.tone {
        Tone::Info => "",
        Tone::Refusal => "Not done · ",
        Tone::Internal => "Error · ",
    };
    blocks.push(Block::Context {
        elements: vec![mrkdwn(format!(
            "{marker}request id `{}`",
            escape::text(reply.request_id.as_str(), 64)
        ))],
    });
    blocks.truncate(50);
    let fallback = match reply.code_ready() {
        Some(ready) => escape::text(&ready, FALLBACK_LIMIT),
        None => whole_lines(&lines, FALLBACK_LIMIT),
    };
    Message {
        channel: None,
        ts: None,
        response_type: Some("ephemeral"),
        replace_original: None,
        text: fallback,
        blocks,
    }
}
