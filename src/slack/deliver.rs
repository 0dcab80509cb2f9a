//! The way out to Slack ([`Deliver`]): Block Kit replies, and what follows them, posted with the
//! bot token after the caller has been answered. Where a request came from (its response URL,
//! the message a button was on) makes a [`SlackOut`] of its own; the one without a request
//! posts the notices otpbot sends on its own.
//!
//! - A click's answer goes to the clicker through the payload's `response_url` (Slack shows
//!   nothing of the HTTP answer to a click), as `"response_type": "ephemeral"` with
//!   `"replace_original": false` ("Handling user interaction":
//!   <https://docs.slack.dev/interactivity/handling-user-interaction>).
//! - A settled request's message replaces the message the button was clicked on, with
//!   `chat.update` (`channel`, `ts`, `text`, `blocks`:
//!   <https://docs.slack.dev/reference/methods/chat.update>).
//! - Notices go to their channel, or to a person in the direct message `conversations.open`
//!   gives (`users`; the answer's `channel.id`:
//!   <https://docs.slack.dev/reference/methods/conversations.open>), with `chat.postMessage`.
//! - Every other copy of a settled request's message (the approvals channel, each approver's
//!   direct message) is replaced the same way, at the `channel` and `ts` that
//!   `chat.postMessage` answered when it was posted.
//! - Words for the caller alone (when no notice could be delivered) go through the response
//!   URL, which slash commands carry too ("Implementing slash commands":
//!   <https://docs.slack.dev/interactivity/implementing-slash-commands>).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::render::{self, blocks::Message};
use super::web::{WebApi, WebApiError};
use crate::domain::{MessageRef, Platform};
use crate::front::{follow_up, Background, Deliver, DeliveryError};
use crate::reply::{ApprovalMessage, Audience, Notice, Reply};

/// Where a Slack request came from, for what follows its answer.
#[derive(Debug, Default)]
pub(super) struct Route {
    /// The slash command's or interaction's response URL: the caller's private line.
    pub response_url: Option<String>,
    /// The message a button was clicked on (`channel`, `ts`), unless it was ephemeral.
    pub clicked: Option<(String, String)>,
}

/// Slack, through the Web API with the bot token (when one is configured), for one request's
/// route (or none).
pub struct SlackOut {
    api: Option<Arc<WebApi>>,
    route: Route,
    /// The caller's answer to post through the response URL (a click's).
    answer: Option<Message>,
}

impl SlackOut {
    /// The way out for a request that came along `route`.
    pub(super) fn new(api: Option<Arc<WebApi>>, route: Route) -> Self {
        Self {
            api,
            route,
            answer: None,
        }
    }

    /// The way to post notices outside any request.
    pub fn outbox(api: Arc<WebApi>) -> Self {
        Self::new(Some(api), Route::default())
    }

    /// The same, also posting `answer` to the caller through the response URL (a click's).
    pub(super) fn answering_late(mut self, answer: Message) -> Self {
        self.answer = Some(answer);
        self
    }

    fn api(&self) -> Result<&WebApi, DeliveryError> {
        self.api
            .as_deref()
            .ok_or_else(|| DeliveryError::new("no Slack bot token"))
    }
}

/// Sends what follows `reply` (its follow-ups, taken out of it) along `out`, after the answer.
/// Without a bot token nothing can be sent, and that is said once.
pub(super) fn spawn(background: &Background, out: SlackOut, reply: &mut Reply) {
    let follow_ups = std::mem::take(&mut reply.follow_ups);
    let request_id = reply.request_id.clone();
    if out.api.is_none() {
        if out.answer.is_some() || !follow_ups.notices.is_empty() {
            tracing::warn!(%request_id, "no Slack bot token: the click's answer and notices are not sent");
        }
        return;
    }
    follow_up(background, out, request_id, follow_ups);
}

impl From<WebApiError> for DeliveryError {
    fn from(e: WebApiError) -> Self {
        DeliveryError::new(e.to_string())
    }
}

#[async_trait]
impl Deliver for SlackOut {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn render(&self, reply: &Reply) -> Value {
        // Strings, booleans and lists only: serialising them cannot fail.
        serde_json::to_value(render::render(reply)).unwrap_or_default()
    }

    async fn notice(&self, notice: &Notice) -> Result<(), DeliveryError> {
        self.post(notice).await.map(drop)
    }

    async fn post(&self, notice: &Notice) -> Result<Option<MessageRef>, DeliveryError> {
        Ok(post_notice(self.api()?, notice).await?)
    }

    /// `chat.update` of the copy at its `channel` and `ts`.
    async fn replace(
        &self,
        copy: &MessageRef,
        message: &ApprovalMessage,
    ) -> Result<(), DeliveryError> {
        let MessageRef::Slack { channel, ts } = copy else {
            return Ok(());
        };
        if self.route.clicked.as_ref() == Some(&(channel.clone(), ts.clone())) {
            // The clicked copy is replaced already.
            return Ok(());
        }
        let mut body = render::message(channel, &message.lines, &message.buttons);
        body.ts = Some(ts.clone());
        self.api()?.call("chat.update", &body).await?;
        Ok(())
    }

    async fn late_answer(&self) -> Result<(), DeliveryError> {
        if let (Some(answer), Some(url)) = (&self.answer, &self.route.response_url) {
            self.api()?.respond(url, answer).await?;
        }
        Ok(())
    }

    async fn replace_clicked(&self, message: &ApprovalMessage) -> Result<(), DeliveryError> {
        let Some((channel, ts)) = &self.route.clicked else {
            return Ok(());
        };
        let mut body = render::message(channel, &message.lines, &message.buttons);
        body.ts = Some(ts.clone());
        self.api()?.call("chat.update", &body).await?;
        Ok(())
    }

    async fn tell_caller(&self, words: &str) -> Result<(), DeliveryError> {
        if let Some(url) = &self.route.response_url {
            self.api()?.respond(url, &render::ephemeral(words)).await?;
        }
        Ok(())
    }
}

/// Posts `notice` with `chat.postMessage`: to its channel, or to a person in the direct
/// message `conversations.open` gives. Slack audiences only. Where it was posted, from the
/// answer's `channel` and `ts`, when Slack says.
async fn post_notice(api: &WebApi, notice: &Notice) -> Result<Option<MessageRef>, WebApiError> {
    let channel = match &notice.to {
        Audience::Channel(channel) => channel.clone(),
        Audience::Person(person) => {
            let opened = api
                .call(
                    "conversations.open",
                    &serde_json::json!({ "users": person.user() }),
                )
                .await?;
            match opened["channel"]["id"].as_str() {
                Some(id) => id.to_owned(),
                None => {
                    return Err(WebApiError::Refused {
                        method: "conversations.open".into(),
                        error: "no channel id in the answer".into(),
                    })
                }
            }
        }
    };
    let posted = api
        .call("chat.postMessage", &render::notice(&channel, notice))
        .await?;
    Ok(match (posted["channel"].as_str(), posted["ts"].as_str()) {
        (Some(channel), Some(ts)) => Some(MessageRef::Slack {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
        }),
        _ => None,
    })
}
