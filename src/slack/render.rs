//! Block Kit rendering of a [`Reply`]: always `"response_type": "ephemeral"`, with a plain-text
//! fallback in `text`.

use serde_json::{json, Value};

use crate::reply::{Reply, Tone};

/// Slack's limit for one section's text.
const SECTION_LIMIT: usize = 3_000;

/// Escapes `&`, `<`, `>` for mrkdwn, keeping user mentions `<@U123>` that otpbot itself wrote.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<@") {
            let id_len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if id_len > 0 && after[id_len..].starts_with('>') {
                out.push_str(&rest[..id_len + 3]);
                rest = &rest[id_len + 3..];
                continue;
            }
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// The JSON body Slack expects in answer to a slash command.
pub fn render(reply: &Reply) -> Value {
    let mut blocks = Vec::new();
    if let Some(card) = &reply.code {
        let mut text = format!(
            "*{}*\n`{}`  valid for {} s",
            escape(&card.tool_display),
            card.code.expose(),
            card.valid_for_secs
        );
        if let Some(next) = &card.next {
            text.push_str(&format!("\nnext code: `{}`", next.expose()));
        }
        blocks.push(section(text));
    }
    let mut chunk = String::new();
    for line in &reply.lines {
        let line = escape(line);
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
        "elements": [{ "type": "mrkdwn", "text": format!("{marker}request id `{}`", reply.request_id) }]
    }));
    blocks.truncate(50);
    json!({ "response_type": "ephemeral", "text": reply.plain_text(), "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_but_keeps_own_mentions() {
        assert_eq!(
            escape("<@U123> & <b> <@> <!here>"),
            "<@U123> &amp; &lt;b&gt; &lt;@&gt; &lt;!here&gt;"
        );
        assert_eq!(escape("ünï <@U1"), "ünï &lt;@U1");
    }
}
