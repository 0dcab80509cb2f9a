//! Out: how a reply looks on one chat platform and how messages reach people and channels on
//! it ([`Deliver`]), and the one way what follows a reply is sent ([`follow_up`]): after the
//! caller has been answered, on a task counted in the [`Background`], so a slow or
//! rate-limited platform never holds an answer back (SPEC §3.12). Nothing here reads a store
//! or a reply's words: the reply's [`FollowUps`] say what to send.

use async_trait::async_trait;
use serde_json::Value;

use super::background::Background;
use crate::domain::{Platform, RequestId};
use crate::reply::{ApprovalMessage, FollowUps, Notice, Reply};

/// Why a message did not reach its chat. Never holds a token or a code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

impl DeliveryError {
    /// A failure described by `why`.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// The way out to one chat platform, for one request (where it came from: a response URL, a
/// service URL, the message a button was on) or for none (the notices otpbot posts on its own,
/// see [`super::Outbox`]). Slack, over HTTP and over Socket Mode, and Teams implement it.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// The platform it reaches; notices addressed elsewhere are left to that platform.
    fn platform(&self) -> Platform;

    /// A reply in the platform's markup (Block Kit, a Teams message activity).
    fn render(&self, reply: &Reply) -> Value;

    /// Posts `notice` to its audience on this platform: a channel, or a person in the private
    /// chat otpbot opens with them.
    async fn notice(&self, notice: &Notice) -> Result<(), DeliveryError>;

    /// The caller's answer, on a platform that shows nothing of the synchronous one (a Slack
    /// button click). Nothing to send by default.
    async fn late_answer(&self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Replaces the message a decision's button was clicked on with `message`, as the decision
    /// left it. Nothing to replace by default (no button was clicked).
    async fn replace_clicked(&self, message: &ApprovalMessage) -> Result<(), DeliveryError> {
        let _ = message;
        Ok(())
    }

    /// Says `words` to the caller alone. Nobody to tell by default.
    async fn tell_caller(&self, words: &str) -> Result<(), DeliveryError> {
        let _ = words;
        Ok(())
    }
}

/// Sends what follows the reply to request `request_id` along `out`, on a task of
/// `background`: the caller's late answer, the settled request's message in place of the one
/// clicked, the notices for this platform (all at once: up to 20 approvers, each a private chat
/// opened and posted to, should not queue behind each other), and, when the reply had notices
/// and none could be delivered, its `if_undelivered` words to the caller. Failures are logged;
/// the decision that called for them stands.
pub fn follow_up(
    background: &Background,
    out: impl Deliver,
    request_id: RequestId,
    follow_ups: FollowUps,
) {
    background.spawn(async move { deliver(&out, &request_id, follow_ups).await });
}

async fn deliver(out: &impl Deliver, request_id: &RequestId, follow_ups: FollowUps) {
    if let Err(e) = out.late_answer().await {
        tracing::warn!(%request_id, error = %e, "click answer not delivered");
    }
    if let Some(message) = follow_ups.approval_message.as_ref().filter(|m| m.settled) {
        if let Err(e) = out.replace_clicked(message).await {
            tracing::warn!(%request_id, error = %e, "request message not updated");
        }
    }
    let delivered = notices(out, request_id, &follow_ups.notices).await;
    if delivered == 0 && !follow_ups.notices.is_empty() {
        if let Some(words) = &follow_ups.if_undelivered {
            if let Err(e) = out.tell_caller(words).await {
                tracing::warn!(%request_id, error = %e, "undelivered notices not reported");
            }
        }
    }
}

/// Posts the notices addressed to `out`'s platform at once; how many arrived.
async fn notices(out: &impl Deliver, request_id: &RequestId, notices: &[Notice]) -> usize {
    let posts = notices
        .iter()
        .filter(|notice| notice.to.platform() == Some(out.platform()))
        .map(|notice| out.notice(notice));
    let mut delivered = 0;
    for result in futures_util::future::join_all(posts).await {
        match result {
            Ok(()) => delivered += 1,
            Err(e) => tracing::warn!(%request_id, error = %e, "notice not posted"),
        }
    }
    delivered
}
