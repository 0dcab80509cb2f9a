//! How otpbot's own mentions travel inside reply lines: a marker no typed text can forge (a
//! per-process key between private-use characters), and the split of a line into text,
//! literals and mentions that every renderer starts from.

use std::sync::OnceLock;

pub(super) const MENTION_OPEN: char = '\u{E000}';
pub(super) const MENTION_CLOSE: char = '\u{E001}';
/// Between a mention's user id and the display name it carries.
const MENTION_NAME: char = '\u{E002}';
/// Longest display name a mention carries, in characters.
const MENTION_NAME_LIMIT: usize = 64;

/// A random key, fixed for the life of the process, inside every mention marker. Text a user
/// typed cannot carry it (it is never shown), so a marker cannot be forged from chat input.
fn mention_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| hex::encode(rand::random::<[u8; 12]>()))
}

/// A mention of `user` (a platform user id) written by otpbot, for use inside a reply line.
/// Renderers show it as the platform's mention; typed `<@U…>` text is shown literally.
pub fn mention(user: &str) -> String {
    format!("{MENTION_OPEN}{}{user}{MENTION_CLOSE}", mention_key())
}

/// A mention of `user` that platforms which cannot show a user id by name (Teams cards) show
/// as `name`, the display name the platform gave for them (cleaned and cut short); a blank
/// name gives a plain [`mention`].
pub fn mention_named(user: &str, name: &str) -> String {
    let name = clean(name, MENTION_NAME_LIMIT);
    if name.trim().is_empty() {
        return mention(user);
    }
    format!(
        "{MENTION_OPEN}{}{user}{MENTION_NAME}{name}{MENTION_CLOSE}",
        mention_key()
    )
}

/// A piece of a reply line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text to show as typed: escaped by every renderer.
    Text(&'a str),
    /// Text that was between backticks: shown as a literal (code) where the platform can.
    Literal(&'a str),
    /// A user id otpbot mentioned through [`mention`].
    Mention(&'a str),
    /// A user id and the display name otpbot mentioned them by ([`mention_named`]).
    Named(&'a str, &'a str),
}

/// Splits a line into text, literals and otpbot's own mentions. Mentions are found first, so a
/// backtick can never pull a mention marker (and its key) into a literal; backticks without a
/// partner stay text.
pub fn segments(line: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(m) = rest.find(MENTION_OPEN) {
        literals(&mut out, &rest[..m]);
        let after = &rest[m + MENTION_OPEN.len_utf8()..];
        let parsed = after.strip_prefix(mention_key()).and_then(|inner| {
            inner
                .find(MENTION_CLOSE)
                .map(|end| (&inner[..end], &inner[end + MENTION_CLOSE.len_utf8()..]))
        });
        match parsed {
            Some((inner, tail)) => {
                out.push(match inner.split_once(MENTION_NAME) {
                    Some((user, name)) => Segment::Named(user, name),
                    None => Segment::Mention(inner),
                });
                rest = tail;
            }
            // A stray marker character: dropped (renderers strip it too).
            None => rest = after,
        }
    }
    literals(&mut out, rest);
    out
}

/// Splits text without mentions into text and `` `x` `` literals.
fn literals<'a>(out: &mut Vec<Segment<'a>>, text: &'a str) {
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        push_text(out, &rest[..open]);
        out.push(Segment::Literal(&rest[open + 1..open + 1 + len]));
        rest = &rest[open + 2 + len..];
    }
    push_text(out, rest);
}

fn push_text<'a>(out: &mut Vec<Segment<'a>>, text: &'a str) {
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
}

/// Whether a character must never reach a chat: control characters (other than none: line
/// breaks are structure, not text), bidirectional overrides and isolates, directional marks,
/// and the mention marker characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
                | MENTION_OPEN | MENTION_CLOSE | MENTION_NAME
        )
}

/// `text` without control, bidirectional-control and marker characters, cut to `max` characters
/// (with `…` when cut). Every renderer passes user-controlled text through this first.
pub fn clean(text: &str, max: usize) -> String {
    let mut kept = text.chars().filter(|&c| !is_hidden(c));
    let mut out: String = kept.by_ref().take(max).collect();
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_mention_carries_a_cleaned_name_that_cannot_forge_a_mention() {
        let line = format!(
            "{} asks",
            mention_named("aad-1", "Alice \u{202E}Contractor")
        );
        assert_eq!(
            segments(&line),
            vec![
                Segment::Named("aad-1", "Alice Contractor"),
                Segment::Text(" asks")
            ]
        );
        let hostile = format!("x{MENTION_NAME}y{MENTION_OPEN}z{MENTION_CLOSE}");
        let line = mention_named("aad-1", &hostile);
        assert_eq!(segments(&line), vec![Segment::Named("aad-1", "xyz")]);
        assert_eq!(
            mention_named("aad-1", " \u{200F} "),
            mention("aad-1"),
            "blank name"
        );
    }
}
