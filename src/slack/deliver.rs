//! Delivering what a reply says follows on Slack, after the caller has been answered: on its
//! own task, counted in the [`Background`], so a rate-limited or slow Web API never holds the
//! answer past Slack's 3 s. Nothing here reads a store or a reply's words: the reply's
//! [`FollowUps`] say what to send, the [`Route`] where the request came from.
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
//! - When a reply had notices and none could be delivered, its `if_undelivered` words go to the
//!   caller through the response URL, which slash commands carry too ("Implementing slash
//!   commands": <https://docs.slack.dev/interactivity/implementing-slash-commands>).

use std::sync::Arc;

use serde_json::Value;

use super::render;
use super::web::{WebApi, WebApiError};
use crate::domain::{Platform, RequestId};
use crate::front::Background;
use crate::reply::{Audience, FollowUps, Notice};

/// Where a Slack request came from, for what follows its answer.
#[derive(Debug, Default)]
pub(crate) struct Route {
    /// The slash command's or interaction's response URL: the caller's private line.
    pub response_url: Option<String>,
    /// The message a button was clicked on (`channel`, `ts`), unless it was ephemeral.
    pub clicked: Option<(String, String)>,
    /// The caller's answer to post through the response URL (a click's).
    pub answer: Option<Value>,
}

/// Sends `follow_ups` of request `request_id` along `route` on a task of `background`.
pub(crate) fn spawn(
    background: &Background,
    api: Option<Arc<WebApi>>,
    request_id: RequestId,
    follow_ups: FollowUps,
    route: Route,
) {
    let Some(api) = api else {
        if route.answer.is_some() || !follow_ups.notices.is_empty() {
            tracing::warn!(%request_id, "no Slack bot token: the click's answer and notices are not sent");
        }
        return;
    };
    background.spawn(async move { deliver(&api, &request_id, follow_ups, route).await });
}

async fn deliver(api: &WebApi, request_id: &RequestId, follow_ups: FollowUps, route: Route) {
    let url = route.response_url.as_deref();
    if let (Some(answer), Some(url)) = (&route.answer, url) {
        if let Err(e) = api.respond(url, answer).await {
            tracing::warn!(%request_id, error = %e, "click answer not delivered");
        }
    }
    if let (Some(message), Some((channel, ts))) = (&follow_ups.request_message, &route.clicked) {
        if message.settled {
            let mut body = render::message(channel, &message.lines, &message.buttons);
            body["ts"] = Value::String(ts.clone());
            if let Err(e) = api.call("chat.update", &body).await {
                tracing::warn!(%request_id, error = %e, "request message not updated");
            }
        }
    }
    let delivered = post_notices(api, request_id, &follow_ups.notices).await;
    if delivered == 0 && !follow_ups.notices.is_empty() {
        if let (Some(words), Some(url)) = (&follow_ups.if_undelivered, url) {
            if let Err(e) = api.respond(url, &render::ephemeral(words)).await {
                tracing::warn!(%request_id, error = %e, "undelivered notices not reported");
            }
        }
    }
}

/// Posts the Slack notices of a reply at once (up to 20 approvers, each a direct message
/// opened and posted, should not queue behind each other); returns how many arrived.
/// Notices for another platform are left to its front end.
async fn post_notices(api: &WebApi, request_id: &RequestId, notices: &[Notice]) -> usize {
    let posts = notices
        .iter()
        .filter(|notice| notice.to.platform() == Some(Platform::Slack))
        .map(|notice| post_notice(api, notice));
    let mut delivered = 0;
    for result in futures_util::future::join_all(posts).await {
        match result {
            Ok(()) => delivered += 1,
            Err(e) => tracing::warn!(%request_id, error = %e, "notice not posted"),
        }
    }
    delivered
}

/// Posts `notice` with `chat.postMessage`: to its channel, or to a person in the direct
/// message `conversations.open` gives. Slack audiences only.
pub(crate) async fn post_notice(api: &WebApi, notice: &Notice) -> Result<(), WebApiError> {
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
    api.call("chat.postMessage", &render::notice(&channel, notice))
        .await
        .map(drop)
}
