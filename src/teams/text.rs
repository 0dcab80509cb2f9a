//! Turning a Teams message into command text: the bot's own mention removed, other mentions
//! resolved to AAD object ids.

use super::activity::Activity;
use super::connector::Connector;

/// Where mentioned users' AAD object ids can be looked up.
#[derive(Clone, Copy)]
pub(super) struct MemberLookup<'a> {
    pub(super) connector: &'a Connector,
    pub(super) service_url: &'a str,
    pub(super) conversation: &'a str,
}

/// The command text. `otp github`, `/otp github` and `@otpbot github` all become `github`:
///
/// - the bot's own mention is removed, as the Bot Framework SDK's
///   `TurnContext.removeMentionText(activity, activity.recipient.id)` does (botbuilder-js
///   `libraries/botbuilder-core/src/turnContext.ts`): the `text` of each `mention` entity whose
///   `mentioned.id` is the recipient (Teams writes it `<at>otpbot</at>`, "Channel and group chat
///   conversations with a bot" in the Teams docs); a leading `@` + the bot's name typed without
///   becoming a mention is dropped too;
/// - other mentions become `<@{aad object id}>`, from the entity or, with `lookup`, from the
///   Connector's member API; without either they stay as typed and name no one;
/// - then an optional leading `otp` or `/otp` word is dropped.
pub(super) async fn command_text(activity: &Activity, lookup: Option<MemberLookup<'_>>) -> String {
    let mut text = activity
        .text
        .clone()
        .unwrap_or_default()
        .replace("&nbsp;", " ");
    let bot = activity.recipient.as_ref();
    let bot_id = bot.map(|r| r.id.as_str());
    for entity in activity.entities.iter().filter(|e| e.kind == "mention") {
        let (Some(mentioned), Some(shown)) = (&entity.mentioned, &entity.text) else {
            continue;
        };
        if Some(mentioned.id.as_str()) == bot_id {
            text = text.replacen(shown.as_str(), " ", 1);
            continue;
        }
        let aad = match (&mentioned.aad_object_id, lookup) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(at)) => at
                .connector
                .member_aad_id(at.service_url, at.conversation, &mentioned.id)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot resolve a mention");
                    None
                }),
            (None, None) => None,
        };
        if let Some(aad) = aad {
            text = text.replacen(shown.as_str(), &format!(" <@{aad}> "), 1);
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut words = without_typed_mention(&words, bot.and_then(|b| b.name.as_deref()));
    if let Some(first) = words.first() {
        if first.eq_ignore_ascii_case("otp") || first.eq_ignore_ascii_case("/otp") {
            words = &words[1..];
        }
    }
    words.join(" ")
}

/// `words` without a leading `@` + the bot's `name` typed as words rather than a mention.
fn without_typed_mention<'w>(words: &'w [&'w str], name: Option<&str>) -> &'w [&'w str] {
    let Some(name) = name else {
        return words;
    };
    let mention = format!("@{}", name.split_whitespace().collect::<Vec<_>>().join(" "));
    let name_words = mention.split(' ').count();
    let typed = words
        .iter()
        .take(name_words)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    match words.first() {
        Some(first) if first.starts_with('@') && typed.eq_ignore_ascii_case(&mention) => {
            &words[name_words..]
        }
        _ => words,
    }
}
