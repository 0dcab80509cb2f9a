//! Out: how a reply looks on one chat platform and how messages reach people and channels on
//! it ([`Deliver`]), and the one way what follows a reply is sent ([`follow_up`]): after the
//! caller has been answered, on a task counted in the [`Background`], so a slow or
//! rate-limited platform never holds an answer back (SPEC §3.12). Nothing here reads a store
//! or a reply's words: the reply's [`FollowUps`] say what to send.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::background::Background;
use crate::domain::{MessageRef, Platform, RequestId};
use crate::engine::Engine;
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

    /// [`Deliver::notice`], saying where the message was posted when the platform says so
    /// (so that it can be updated later). By default, where is not known.
    async fn post(&self, notice: &Notice) -> Result<Option<MessageRef>, DeliveryError> {
        self.notice(notice).await.map(|()| None)
    }

    /// Replaces the copy of a request's message posted at `copy` (on this platform) with
    /// `message`, as the request now stands. Nothing to replace by default.
    async fn replace(
        &self,
        copy: &MessageRef,
        message: &ApprovalMessage,
    ) -> Result<(), DeliveryError> {
        let _ = (copy, message);
        Ok(())
    }

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
    let copies = background.copies();
    background.spawn(async move { deliver(&out, copies, &request_id, follow_ups).await });
}

/// Sends `follow_ups` along `out` now (see [`follow_up`]); where copies of a request's
/// message were posted goes to `copies`. For what otpbot sends on its own (the sweep).
pub(super) async fn deliver(
    out: &(impl Deliver + ?Sized),
    copies: Option<Arc<Engine>>,
    request_id: &RequestId,
    follow_ups: FollowUps,
) {
    if let Err(e) = out.late_answer().await {
        tracing::warn!(%request_id, error = %e, "click answer not delivered");
    }
    if let Some(message) = follow_ups.approval_message.as_ref().filter(|m| m.settled) {
        if let Err(e) = out.replace_clicked(message).await {
            tracing::warn!(%request_id, error = %e, "request message not updated");
        }
        replace_copies(out, request_id, &follow_ups.copies, message).await;
    }
    let (delivered, posted) = notices(out, request_id, &follow_ups.notices).await;
    if let (Some(engine), Some(id)) = (copies, &follow_ups.record_copies) {
        if !posted.is_empty() {
            if let Err(e) = engine.record_copies(id, posted).await {
                tracing::warn!(%request_id, error = %e, "copies of the request message not recorded");
            }
        }
    }
    if delivered == 0 && !follow_ups.notices.is_empty() {
        if let Some(words) = &follow_ups.if_undelivered {
            if let Err(e) = out.tell_caller(words).await {
                tracing::warn!(%request_id, error = %e, "undelivered notices not reported");
            }
        }
    }
}

/// Replaces every copy of a settled request's message on `out`'s platform, all at once.
async fn replace_copies(
    out: &(impl Deliver + ?Sized),
    request_id: &RequestId,
    copies: &[MessageRef],
    message: &ApprovalMessage,
) {
    let platform = out.platform();
    let updates = copies
        .iter()
        .filter(|copy| copy.platform() == platform)
        .map(|copy| out.replace(copy, message));
    for result in futures_util::future::join_all(updates).await {
        if let Err(e) = result {
            tracing::warn!(%request_id, error = %e, "a copy of the request message not updated");
        }
    }
}

/// Posts the notices addressed to `out`'s platform at once; how many arrived, and where those
/// with buttons were posted (when the platform said).
async fn notices(
    out: &(impl Deliver + ?Sized),
    request_id: &RequestId,
    notices: &[Notice],
) -> (usize, Vec<MessageRef>) {
    let posts = notices
        .iter()
        .filter(|notice| notice.to.platform() == Some(out.platform()))
        .map(|notice| async move { (notice, out.post(notice).await) });
    let mut delivered = 0;
    let mut posted = Vec::new();
    for (notice, result) in futures_util::future::join_all(posts).await {
        match result {
            Ok(at) => {
                delivered += 1;
                posted.extend(at.filter(|_| !notice.buttons.is_empty()));
            }
            Err(e) => tracing::warn!(%request_id, error = %e, "notice not posted"),
        }
    }
    (delivered, posted)
}
