//! The follow-ups still running after their answers, counted so that whoever must wait for
//! them can.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;

/// Work a front end does after it has answered: the follow-ups a reply calls for (notices, the
/// updated request message, a click's answer through Slack's response URL). Each runs on its
/// own task and is counted while it runs, so whoever must wait for them can: the Lambda entry
/// before its environment is frozen, `otpbot serve` before it exits, a test before it looks.
#[derive(Clone)]
pub struct Background {
    running: Arc<tokio::sync::watch::Sender<usize>>,
    /// Where the copies of a request's approval message a follow-up posted are recorded
    /// (`None`: nowhere, e.g. a test of delivery alone).
    copies: Option<Arc<Engine>>,
}

impl Default for Background {
    fn default() -> Self {
        Self {
            running: Arc::new(tokio::sync::watch::Sender::new(0)),
            copies: None,
        }
    }
}

/// Counts one task down when it ends, however it ends.
struct Running(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Background {
    /// Follow-ups that record with `engine` where copies of a request's approval message
    /// were posted (see [`Engine::record_copies`]).
    pub fn recording_copies(engine: Arc<Engine>) -> Self {
        Self {
            copies: Some(engine),
            ..Self::default()
        }
    }

    /// Where copies are recorded.
    pub(super) fn copies(&self) -> Option<Arc<Engine>> {
        self.copies.clone()
    }

    /// Runs `work` on its own task, counted until it ends.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.running.send_modify(|n| *n += 1);
        let running = Running(self.running.clone());
        tokio::spawn(async move {
            let _running = running;
            work.await;
        });
    }

    /// How many tasks are running now.
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// Completes once no task is running (at once if none is).
    pub async fn idle(&self) {
        let mut seen = self.running.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is zero.
        let _ = seen.wait_for(|n| *n == 0).await;
    }

    /// [`Background::idle`], giving up after `limit`; `false` if tasks were still running.
    pub async fn idle_within(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.idle()).await.is_ok()
    }
}
