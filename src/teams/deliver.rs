//! The way out to Teams ([`Deliver`]): Adaptive Card replies, and what follows them (the
//! [`FollowUps`](crate::reply::FollowUps) a command decided on), through the Bot Connector after
//! the answer: messages for others (a tool's approvals or notice channel, an approver, a
//! requester) when they are addressed to Teams, a settled request's card replaced where it was
//! clicked, and words for the caller alone. Nothing here reads a store or a reply's words.
//!
//! A channel notice goes to a Teams conversation as a proactive message,
//! `POST {serviceUrl}/v3/conversations/{conversationId}/activities` ("Send to conversation" in
//! the Bot Connector REST API reference:
//! <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#send-to-conversation>),
//! through the service URL of the verified activity being handled (or, for what otpbot posts on
//! its own, the public cloud's). A person is reached in the bot's 1:1 conversation with them,
//! created (or found) first. A settled card is replaced with the Connector's "update activity"
//! (<https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#update-activity>).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::activity::Account;
use super::config::TeamsConfig;
use super::connector::ConnectorError;
use super::render;
use crate::domain::{MessageRef, Platform, Principal};
use crate::front::{Deliver, DeliveryError};
use crate::reply::{ApprovalMessage, Audience, Notice, Reply};

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

/// Teams, through the Bot Connector, for one activity's route (or none).
pub struct TeamsOut {
    teams: Arc<TeamsConfig>,
    /// The verified activity's service URL: everything goes through it.
    service_url: String,
    /// The bot, as the activity named it: needed to open a chat with a person.
    bot: Option<Account>,
    /// The card a button was clicked on: its conversation and activity id.
    clicked: Option<(String, String)>,
    /// The caller's personal chat, for words to the caller alone.
    caller_chat: Option<String>,
}

impl TeamsOut {
    /// The way out for a request that arrived through `service_url`, to `bot`.
    pub(super) fn new(teams: Arc<TeamsConfig>, service_url: &str, bot: &Account) -> Self {
        Self {
            teams,
            service_url: service_url.to_owned(),
            bot: Some(bot.clone()),
            clicked: None,
            caller_chat: None,
        }
    }

    /// Replaces the card `card` in `conversation` once the request it shows is settled.
    pub(super) fn clicked(mut self, clicked: Option<(String, String)>) -> Self {
        self.clicked = clicked;
        self
    }

    /// Tells the caller in `chat` what only they may read.
    pub(super) fn caller_chat(mut self, chat: Option<String>) -> Self {
        self.caller_chat = chat;
        self
    }

    /// The way to post in Teams conversations outside any request (the audit channel, the
    /// sweep's messages): through the configured service URL, as the bot itself.
    pub fn outbox(teams: Arc<TeamsConfig>) -> Self {
        Self {
            service_url: teams.service_url.clone(),
            bot: teams.connector.bot_account(),
            teams,
            clicked: None,
            caller_chat: None,
        }
    }

    /// Sends `card` to a Teams user of a served tenant in the bot's 1:1 chat with them, opened
    /// by their AAD object id; the conversation and the new activity's id, when given.
    async fn send_to_person(
        &self,
        person: &Principal,
        card: &Value,
    ) -> Result<(String, Option<String>), DeliveryError> {
        if person.platform() != Platform::Teams
            || !self.teams.allowed_tenants.contains(person.workspace())
        {
            return Err(DeliveryError::new("not a user of a served tenant"));
        }
        let bot = self
            .bot
            .as_ref()
            .ok_or_else(|| DeliveryError::new("no conversation names the bot to write as"))?;
        let connector = &self.teams.connector;
        let url = &self.service_url;
        let conversation = connector
            .personal_conversation_with(url, bot, person.user(), person.workspace())
            .await?;
        let id = connector.send_for_id(url, &conversation, card).await?;
        Ok((conversation, id))
    }
}

impl From<ConnectorError> for DeliveryError {
    fn from(e: ConnectorError) -> Self {
        DeliveryError::new(e.to_string())
    }
}

#[async_trait]
impl Deliver for TeamsOut {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    fn render(&self, reply: &Reply) -> Value {
        render::render(reply)
    }

    /// A channel or chat as a proactive message, a person in their 1:1 chat.
    async fn notice(&self, notice: &Notice) -> Result<(), DeliveryError> {
        self.post(notice).await.map(drop)
    }

    /// [`Deliver::notice`], with the conversation and the activity id the Connector answered.
    async fn post(&self, notice: &Notice) -> Result<Option<MessageRef>, DeliveryError> {
        let card = render::notice_card(notice);
        let (conversation, activity) = match &notice.to {
            Audience::Channel(conversation) if is_conversation_id(conversation) => {
                let connector = &self.teams.connector;
                let id = connector
                    .send_for_id(&self.service_url, conversation, &card)
                    .await?;
                (conversation.clone(), id)
            }
            Audience::Channel(_) => return Err(DeliveryError::new("not a Teams conversation id")),
            Audience::Person(person) => self.send_to_person(person, &card).await?,
        };
        Ok(activity.map(|activity| MessageRef::Teams {
            service_url: self.service_url.clone(),
            conversation,
            activity,
        }))
    }

    /// "Update activity" of the copy, through the service URL it was posted through.
    async fn replace(
        &self,
        copy: &MessageRef,
        message: &ApprovalMessage,
    ) -> Result<(), DeliveryError> {
        let MessageRef::Teams {
            service_url,
            conversation,
            activity,
        } = copy
        else {
            return Ok(());
        };
        if self.clicked.as_ref() == Some(&(conversation.clone(), activity.clone())) {
            // The clicked card is replaced already.
            return Ok(());
        }
        let settled = render::lines_card(&message.lines, &message.buttons);
        let connector = &self.teams.connector;
        Ok(connector
            .update(service_url, conversation, activity, &settled)
            .await?)
    }

    async fn replace_clicked(&self, message: &ApprovalMessage) -> Result<(), DeliveryError> {
        let Some((conversation, card)) = &self.clicked else {
            return Ok(());
        };
        let settled = render::lines_card(&message.lines, &message.buttons);
        let connector = &self.teams.connector;
        Ok(connector
            .update(&self.service_url, conversation, card, &settled)
            .await?)
    }

    async fn tell_caller(&self, words: &str) -> Result<(), DeliveryError> {
        let Some(chat) = &self.caller_chat else {
            return Ok(());
        };
        let connector = &self.teams.connector;
        Ok(connector
            .send(&self.service_url, chat, &render::text_card(words))
            .await?)
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
