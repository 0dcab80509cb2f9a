//! Messages for others that a decision calls for (a tool's approvals or notice channel, an
//! approver, a requester), posted by the Teams front end when they are addressed to Teams.
//!
//! A channel notice goes to a Teams conversation as a proactive message,
//! `POST {serviceUrl}/v3/conversations/{conversationId}/activities` ("Send to conversation" in
//! the Bot Connector REST API reference:
//! <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#send-to-conversation>),
//! through the service URL of the verified activity being handled. A person is reached in the
//! bot's 1:1 conversation with them, created (or found) first. Failures are logged; the decision
//! that called for the notice stands.

use serde_json::Value;

use super::activity::Account;
use super::{render, TeamsConfig};
use crate::domain::{Platform, Principal};
use crate::reply::{Audience, Reply};

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

/// Posts the reply's notices whose audience is on Teams: a channel or chat as a proactive
/// message, a person in their 1:1 chat. Others are left to their own platform's front end.
pub async fn post(teams: &TeamsConfig, service_url: &str, bot: &Account, reply: &Reply) {
    for notice in &reply.notices {
        if notice.to.platform() != Some(Platform::Teams) {
            continue;
        }
        let card = render::notice_card(notice);
        match &notice.to {
            Audience::Channel(conversation) if is_conversation_id(conversation) => {
                if let Err(e) = teams.connector.send(service_url, conversation, &card).await {
                    tracing::warn!(request_id = %reply.request_id, error = %e, "notice not posted");
                }
            }
            Audience::Channel(_) => {
                tracing::warn!(request_id = %reply.request_id, "notice not posted: not a Teams conversation id");
            }
            Audience::Person(person) => {
                send_to_person(teams, service_url, bot, person, &card).await;
            }
        }
    }
}

/// Sends `card` to a Teams user of a served tenant in the bot's 1:1 chat with them, opened by
/// their AAD object id.
pub async fn send_to_person(
    teams: &TeamsConfig,
    service_url: &str,
    bot: &Account,
    person: &Principal,
    card: &Value,
) {
    if person.platform() != Platform::Teams || !teams.allowed_tenants.contains(person.workspace()) {
        return;
    }
    let opened = teams
        .connector
        .personal_conversation_with(service_url, bot, person.user(), person.workspace())
        .await;
    let sent = match opened {
        Ok(conversation) => teams.connector.send(service_url, &conversation, card).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "private message not sent");
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
