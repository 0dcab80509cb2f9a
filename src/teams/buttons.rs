//! A [`Button`] on a Teams card: the `verb` of its `Action.Execute` and its `data`, written from
//! [`Button::parts`] by the renderer and read back through [`Button::from_parts`] from a click's
//! invoke, so a click is the same typed button again.

use crate::reply::Verb;

/// Prefix of every verb otpbot puts on its cards.
const VERB_PREFIX: &str = "otp.";

/// The card verb of `verb`: `otp.approve`, `otp.deny`, `otp.request`, `otp.code`.
pub fn verb(verb: Verb) -> String {
    format!("{VERB_PREFIX}{}", verb.name())
}

/// The verb a card action's `verb` names, when it is one otpbot writes.
pub fn verb_named(card_verb: &str) -> Option<Verb> {
    card_verb.strip_prefix(VERB_PREFIX).and_then(Verb::named)
}
