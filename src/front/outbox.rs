//! The notices otpbot posts on its own, outside any request (the audit checkpoints `serve` and
//! the sealing run publish, what the sweep says): through the same [`Deliver`] each front end
//! implements, never around it.

use std::sync::Arc;

use super::deliver::{deliver, Deliver, DeliveryError};
use crate::domain::RequestId;
use crate::engine::Engine;
use crate::reply::{FollowUps, Notice};

/// One way out per chat platform that is set up to post (Slack with a bot token, Teams).
#[derive(Clone, Default)]
pub struct Outbox {
    ways: Vec<Arc<dyn Deliver>>,
}

impl Outbox {
    /// The outbox with `way` added.
    pub fn with(mut self, way: Arc<dyn Deliver>) -> Self {
        self.ways.push(way);
        self
    }

    /// Whether no platform is set up to post: then nothing otpbot says on its own reaches anyone.
    pub fn is_empty(&self) -> bool {
        self.ways.is_empty()
    }

    /// Posts `notice` on the platform its audience is on.
    pub async fn post(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let platform = notice
            .to
            .platform()
            .ok_or_else(|| DeliveryError::new("the channel is neither a Slack nor a Teams id"))?;
        let way = self
            .ways
            .iter()
            .find(|way| way.platform() == platform)
            .ok_or_else(|| {
                DeliveryError::new(format!(
                    "the channel is on {}, where otpbot is not set up to post (Slack needs a \
                     bot token, Teams its settings)",
                    platform.as_str()
                ))
            })?;
        way.notice(notice).await
    }

    /// Sends `follow_ups` (the sweep's, for its record `request_id`) on every platform set up
    /// to post, each its own part of them: notices to its channels and people, the copies of
    /// a request's message posted on it. Where new copies of a request's message were posted
    /// is recorded with `engine`. Failures are logged; nothing is retried.
    pub async fn follow_up(
        &self,
        engine: &Arc<Engine>,
        request_id: &RequestId,
        follow_ups: FollowUps,
    ) {
        let sends = self.ways.iter().map(|way| {
            deliver(
                way.as_ref(),
                Some(engine.clone()),
                request_id,
                follow_ups.clone(),
            )
        });
        futures_util::future::join_all(sends).await;
    }
}
