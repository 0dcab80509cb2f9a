//! Escaping for the Markdown of Adaptive Card `TextBlock`s and the activity `text`.
//!
//! Adaptive Cards' "Text features" page: TextBlock supports a CommonMark subset — `**bold**`,
//! `_italic_`, bullet and numbered lists, `[Title](url)` links. Teams' "Text formatting in
//! cards" page: "Markdown is supported in Adaptive Card Textblock field, and Fact.Title and
//! Fact.Value. HTML isn't supported". CommonMark ("Backslash escapes"): any ASCII punctuation
//! character may be backslash-escaped and then stands for itself. The characters that open
//! emphasis, links, images, code spans, HTML, entities and tables are escaped wherever they are;
//! those that open a list, heading or quote only at the start of a block are escaped there
//! (each line is its own TextBlock). The escape before `(` also keeps a `](` pair apart for
//! renderers that ignore backslashes.

use crate::reply::{clean, segments, Segment, LINE_LIMIT};

/// Characters that open Markdown anywhere in a line.
const INLINE: &[char] = &[
    '\\', '`', '*', '_', '~', '[', ']', '(', ')', '!', '<', '>', '&', '|', '#',
];

/// `text` cleaned (control and bidirectional characters removed, length capped) with inline
/// Markdown syntax backslash-escaped.
pub fn text(text: &str, max: usize) -> String {
    let cleaned = clean(text, max);
    let mut out = String::with_capacity(cleaned.len() * 2);
    for c in cleaned.chars() {
        if INLINE.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Drops leading spaces (four would start a code block) and escapes a list marker (`-`, `+`,
/// `1.`, `1)`) at the start of a block.
fn block_start(rendered: String) -> String {
    let body = rendered.trim_start_matches(' ');
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let marker = match body.as_bytes().get(digits) {
        Some(b'-' | b'+') if digits == 0 => Some(0),
        Some(b'.' | b')') if digits > 0 => Some(digits),
        _ => None,
    };
    match marker {
        Some(at) => format!("{}\\{}", &body[..at], &body[at..]),
        None => body.to_owned(),
    }
}

/// One reply line as TextBlock Markdown. Literals keep their backticks (escaped, so they show);
/// otpbot's mentions show as `@id` (a card mention would need an entity per user).
pub fn line(line: &str) -> String {
    block_start(
        segments(line)
            .into_iter()
            .map(|segment| match segment {
                Segment::Text(t) => text(t, LINE_LIMIT),
                Segment::Literal(t) => format!("\\`{}\\`", text(t, LINE_LIMIT)),
                Segment::Mention(user) | Segment::Named(_, user) => {
                    format!("@{}", text(user, LINE_LIMIT))
                }
            })
            .collect(),
    )
}

/// A single value (a tool's display name) as a whole TextBlock.
pub fn block(value: &str, max: usize) -> String {
    block_start(text(value, max))
}

/// One reply line as plain text (for `summary`, which is not Markdown).
pub fn plain_line(line: &str) -> String {
    segments(line)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => clean(t, LINE_LIMIT),
            Segment::Literal(t) => format!("`{}`", clean(t, LINE_LIMIT)),
            Segment::Mention(user) | Segment::Named(_, user) => {
                format!("@{}", clean(user, LINE_LIMIT))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::mention;

    #[test]
    fn markdown_syntax_is_escaped() {
        assert_eq!(
            text("[click](https://evil) **b** _i_", 100),
            "\\[click\\]\\(https://evil\\) \\*\\*b\\*\\* \\_i\\_"
        );
        assert_eq!(line("- a\r\n# h"), "\\- a\\# h");
        assert_eq!(line(" 12. x"), "12\\. x");
        assert_eq!(line("     code"), "code");
        assert_eq!(line("a - b 1. c"), "a - b 1. c");
    }

    #[test]
    fn own_mentions_render_as_at_names() {
        assert_eq!(
            line(&format!("{} has `github`", mention("abc-1"))),
            "@abc-1 has \\`github\\`"
        );
    }
}
