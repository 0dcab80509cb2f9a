//! The sweep, scheduled: `otpbot serve` runs one every `OTPBOT_SWEEP_EVERY`, the Lambda
//! function one per scheduled invocation of its own EventBridge rule, and `otpbot sweep` one
//! on demand (cron, tests). Each sweep asks the engine what is due (it marks each item and
//! records it before anything is sent) and hands what it says to send to the platforms set
//! up to post ([`crate::front::Outbox`]).

use std::sync::Arc;
use std::time::Duration;

use super::app::App;
use super::state::AppState;
use crate::config::Settings;
use crate::engine::Engine;
use crate::front::Outbox;
use crate::slack::SlackOut;
use crate::teams::TeamsOut;

/// Why a sweep does not run without a platform to post on.
const NOWHERE: &str = "no chat platform is set up to post (Slack needs a bot token, \
     OTPBOT_SLACK_BOT_TOKEN or `otpbot secret set slack-bot-token`; Teams its settings), so the \
     sweep would have no way to send its reminders and notices: nothing was swept";

/// What one sweep did, in numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Requests whose approvers were reminded.
    pub reminded: usize,
    /// Requests told expired undecided.
    pub expired: usize,
    /// Holders warned that their grants end soon.
    pub warned: usize,
    /// Items another sweep had done first.
    pub already: usize,
    /// Items that failed, left for the next sweep.
    pub failed: usize,
}

/// Runs one sweep on `engine` and sends what it calls for through `outbox`, waiting until it
/// is all out. A store that fails before anything is read fails the sweep; a failure later
/// fails only its item (counted in `failed`).
pub async fn sweep_once(engine: &Arc<Engine>, outbox: &Outbox) -> anyhow::Result<SweepReport> {
    if outbox.is_empty() {
        // Marking items done with no way to send their messages would lose them.
        anyhow::bail!("{NOWHERE}");
    }
    let swept = engine.sweep().await?;
    let report = SweepReport {
        reminded: swept.reminded,
        expired: swept.expired,
        warned: swept.warned,
        already: swept.already,
        failed: swept.failed,
    };
    let sends = swept
        .follow_ups
        .into_iter()
        .map(|(request_id, follow_ups)| async move {
            outbox.follow_up(engine, &request_id, follow_ups).await;
        });
    futures_util::future::join_all(sends).await;
    if report != SweepReport::default() {
        tracing::info!(?report, "sweep done");
    }
    Ok(report)
}

impl App {
    /// One sweep on this application's engine, sent through every platform the settings let
    /// post (Slack with a bot token, Teams), without serving anything: `otpbot sweep`.
    pub async fn sweep(self, settings: &Settings) -> anyhow::Result<SweepReport> {
        let mut outbox = Outbox::default();
        if let Some(api) = self.slack_web_api(settings).await? {
            outbox = outbox.with(Arc::new(SlackOut::outbox(api)));
        }
        if let Some(teams) = self.teams_config(settings).await? {
            outbox = outbox.with(Arc::new(TeamsOut::outbox(Arc::new(teams))));
        }
        sweep_once(&Arc::new(self.engine), &outbox).await
    }
}

impl AppState {
    /// One sweep on this state's engine, sent on its platforms.
    pub async fn sweep(&self) -> anyhow::Result<SweepReport> {
        sweep_once(&self.engine, &self.outbox()).await
    }
}

/// Sweeps `engine` every `every`, sending through `outbox`, until the task is dropped; a
/// failed sweep is logged and the next one comes on time.
pub async fn sweep_every(engine: Arc<Engine>, outbox: Outbox, every: Duration) {
    if outbox.is_empty() {
        tracing::warn!("no sweep: {NOWHERE}");
        return;
    }
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = sweep_once(&engine, &outbox).await {
            tracing::error!(error = %e, "sweep failed; the next one tries again");
        }
    }
}

/// Stops a scheduled task when its owner ends.
pub(super) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
