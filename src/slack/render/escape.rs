//! Escaping for Slack `mrkdwn` and the top-level fallback `text`.
//!
//! Slack's "Formatting message text" guide (docs.slack.dev/messaging/formatting-message-text,
//! "Escaping text"): `&`, `<` and `>` are control characters and must be sent as `&amp;`,
//! `&lt;`, `&gt;`; everything Slack turns into a mention, a channel link, a special (`<!here>`,
//! `<!channel>`, `<!everyone>`) or a link is written between `<` and `>`. With all three
//! escaped, typed text cannot open such a sequence. Text objects are also sent with
//! `"verbatim": true` (Block Kit "Text object" reference,
//! docs.slack.dev/reference/block-kit/composition-objects/text-object), so Slack does not
//! auto-link URLs, channel names or bare `@here` in them either.
//!
//! Slack's mrkdwn has no escape for `*`, `_` and `~`; they can only style text, never link or
//! ping, and are left as typed.

use crate::reply::{clean, segments, Segment, LINE_LIMIT};

/// `text` cleaned (control and bidirectional characters removed, length capped) with `&`, `<`
/// and `>` escaped.
pub fn text(text: &str, max: usize) -> String {
    let cleaned = clean(text, max);
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// A Slack user id as Slack writes them (`U…`, `W…`, `B…`): only then is a mention emitted.
fn is_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A literal between backticks. A backtick inside would end the code span early, so it is
/// shown as a modifier letter that looks the same.
fn literal(inner: &str) -> String {
    format!("`{}`", text(inner, LINE_LIMIT).replace('`', "ˋ"))
}

/// One reply line as mrkdwn: text escaped, `` `x` `` as code, otpbot's mentions as `<@U…>`.
pub fn line(line: &str) -> String {
    segments(line)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => text(t, LINE_LIMIT),
            Segment::Literal(t) => literal(t),
            Segment::Mention(user) | Segment::Named(user, _) if is_user_id(user) => {
                format!("<@{user}>")
            }
            Segment::Mention(user) | Segment::Named(user, _) => text(user, LINE_LIMIT),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::mention;

    #[test]
    fn typed_specials_and_mentions_stay_text() {
        assert_eq!(
            line("<@U123> & <b> <!here> <!channel> <https://x|y>"),
            "&lt;@U123&gt; &amp; &lt;b&gt; &lt;!here&gt; &lt;!channel&gt; &lt;https://x|y&gt;"
        );
    }

    #[test]
    fn own_mentions_and_literals_render() {
        assert_eq!(
            line(&format!("Revoked {}'s access to `github`.", mention("U9"))),
            "Revoked <@U9>'s access to `github`."
        );
        assert_eq!(
            line(&format!("{} x", mention("U9>&<!here"))),
            "U9&gt;&amp;&lt;!here x"
        );
    }

    #[test]
    fn hidden_characters_are_removed_and_length_capped() {
        assert_eq!(text("a\u{202E}b\u{2066}c\u{200F}d\u{7}e\n", 100), "abcde");
        assert_eq!(text("abcdef", 3), "abc…");
    }
}
