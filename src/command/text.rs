//! How untrusted text is shown back in messages.

/// A short, printable rendering of untrusted text for messages.
pub fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control() && *c != '`')
        .take(40)
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}
