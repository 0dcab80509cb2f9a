//! The notices otpbot posts on its own, outside any request (the audit checkpoints `serve` and
//! the sealing run publish): through the same [`Deliver`] each front end implements, never
//! around it.

use std::sync::Arc;

use super::deliver::{Deliver, DeliveryError};
use crate::reply::Notice;

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
}
