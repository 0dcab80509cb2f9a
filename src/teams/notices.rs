//! What follows a Teams reply (the [`FollowUps`] its command decided on): messages for others
//! (a tool's approvals or notice channel, an approver, a requester) when they are addressed to
//! Teams, and a settled request's card replaced where it was clicked. Sent after the answer,
//! never before it; nothing here reads a store or a reply's words.
//!
//! A channel notice goes to a Teams conversation as a proactive message,
//! `POST {serviceUrl}/v3/conversations/{conversationId}/activities` ("Send to conversation" in
//! the Bot Connector REST API reference:
//! <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#send-to-conversation>),
//! through the service URL of the verified activity being handled. A person is reached in the
//! bot's 1:1 conversation with them, created (or found) first. Failures are logged; the decision
//! that called for the notice stands.

use std::sync::Arc;

use serde_json::Value;

use super::activity::Account;
use super::{render, TeamsConfig};
use crate::domain::{Platform, Principal, RequestId};
use crate::front::Background;
use crate::reply::{Audience, FollowUps, Notice};

/// Longest conversation id accepted as a notice's address.
const MAX_CONVERSATION_ID: usize = 512;

/// Whether `id` is a Teams conversation id rather than a Slack channel id. Teams ids carry a
/// type prefix: channels and group chats are `19:…@thread.tacv2`, `19:…@thread.skype` (older
/// channels) or `19:…@thread.v2` (group chats), Graph-created 1:1 chats `19:…@unq.gbl.spaces`,
/// and the Bot Framework's personal conversations `a:…` (the `id` a `POST /v3/conversations`
/// answers: microsoft/teams.net `core/docs/CreateConversation-API-Behavior.md`; conversation
/// ids in Teams' "Channel and group chat conversations with a bot"). Slack ids (`C0123…`)
/// never hold a `:`.
pub fn is_conversation_id(id: &str) -> bool {
    let shaped = match id.split_once(':') {
        Some(("19", rest)) => rest.contains('@'),
        Some(("a", rest)) => !rest.is_empty(),
        _ => false,
    };
    shaped
        && id.len() <= MAX_CONVERSATION_ID
        && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Where a Teams request came from, for what follows its answer.
pub(super) struct Route {
    /// The verified activity's service URL: every follow-up goes through it.
    pub service_url: String,
    /// The bot, as the activity named it.
    pub bot: Account,
    /// The card a button was clicked on: its conversation and activity id.
    pub clicked: Option<(String, String)>,
    /// The caller's personal chat, for words to the caller alone.
    pub caller_chat: Option<String>,
}

/// Sends `follow_ups` of request `request_id` along `route`, on a task of `background`, after
/// the answer: a settled request's card replaced in place for everyone (Connector "update
/// activity": <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#update-activity>),
/// the notices, and, when none of them could be delivered, the reply's `if_undelivered` words
/// to the caller.
pub(super) fn spawn(
    background: &Background,
    teams: Arc<TeamsConfig>,
    request_id: RequestId,
    follow_ups: FollowUps,
    route: Route,
) {
    background.spawn(async move { deliver(&teams, &request_id, follow_ups, route).await });
}

async fn deliver(teams: &TeamsConfig, request_id: &RequestId, follow_ups: FollowUps, route: Route) {
    let url = route.service_url.as_str();
    if let (Some(message), Some((conversation, card))) =
        (&follow_ups.request_message, &route.clicked)
    {
        if message.settled {
            let settled = render::lines_card(&message.lines, &message.buttons);
            if let Err(e) = teams
                .connector
                .update(url, conversation, card, &settled)
                .await
            {
                tracing::warn!(%request_id, error = %e, "request card not updated");
            }
        }
    }
    let mut delivered = 0;
    for notice in &follow_ups.notices {
        if post(teams, url, &route.bot, notice).await {
            delivered += 1;
        }
    }
    if delivered == 0 && !follow_ups.notices.is_empty() {
        if let (Some(words), Some(chat)) = (&follow_ups.if_undelivered, &route.caller_chat) {
            if let Err(e) = teams
                .connector
                .send(url, chat, &render::text_card(words))
                .await
            {
                tracing::warn!(%request_id, error = %e, "undelivered notices not reported");
            }
        }
    }
}

/// Posts `notice` when its audience is on Teams: a channel or chat as a proactive message, a
/// person in their 1:1 chat. Others are left to their own platform's front end. `true` when it
/// was delivered.
async fn post(teams: &TeamsConfig, service_url: &str, bot: &Account, notice: &Notice) -> bool {
    if notice.to.platform() != Some(Platform::Teams) {
        return false;
    }
    let card = render::notice_card(notice);
    match &notice.to {
        Audience::Channel(conversation) if is_conversation_id(conversation) => {
            match teams.connector.send(service_url, conversation, &card).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "notice not posted");
                    false
                }
            }
        }
        Audience::Channel(_) => {
            tracing::warn!("notice not posted: not a Teams conversation id");
            false
        }
        Audience::Person(person) => send_to_person(teams, service_url, bot, person, &card).await,
    }
}

/// Sends `card` to a Teams user of a served tenant in the bot's 1:1 chat with them, opened by
/// their AAD object id; `true` when it was sent.
async fn send_to_person(
    teams: &TeamsConfig,
    service_url: &str,
    bot: &Account,
    person: &Principal,
    card: &Value,
) -> bool {
    if person.platform() != Platform::Teams || !teams.allowed_tenants.contains(person.workspace()) {
        return false;
    }
    let opened = teams
        .connector
        .personal_conversation_with(service_url, bot, person.user(), person.workspace())
        .await;
    let sent = match opened {
        Ok(conversation) => teams.connector.send(service_url, &conversation, card).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "private message not sent");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_conversation_ids_are_told_from_slack_channel_ids() {
        for id in [
            "19:a1b2c3@thread.tacv2",
            "19:a1b2c3@thread.skype",
            "19:meeting_x@thread.v2",
            "19:aad1_aad2@unq.gbl.spaces",
            "a:1p0iicaJlVi-_KIYKDDvLi4c2pMZMc8B0b",
        ] {
            assert!(is_conversation_id(id), "{id}");
        }
        for id in [
            "C0123",
            "D0ALICE",
            "19:nothread",
            "a:",
            "29:user",
            "19:x y@thread.v2",
            "",
        ] {
            assert!(!is_conversation_id(id), "{id}");
        }
    }
}
