//! `otpbot sweep`: one sweep now, as `otpbot serve` runs every `OTPBOT_SWEEP_EVERY` (for cron,
//! or a deployment without a long-running server): reminders, requests that expired
//! undecided, grants about to end. Each item is marked done before its message goes out, so a
//! sweep run beside `serve`'s never repeats one.

use anyhow::bail;
use clap::Args;

use crate::config::Settings;
use crate::startup::{App, Patience};

/// `otpbot sweep`
#[derive(Debug, Args)]
pub struct SweepArgs {}

/// Runs one sweep and prints what it did; fails when an item failed (it is left for the next).
pub async fn run(mut settings: Settings, _args: SweepArgs) -> anyhow::Result<()> {
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, Patience::Operator).await?;
    let report = app.sweep(&settings).await?;
    say!(
        "reminded {}, expired {}, warned {}, done before {}, failed {}",
        report.reminded,
        report.expired,
        report.warned,
        report.already,
        report.failed
    );
    if report.failed > 0 {
        bail!(
            "{} item(s) failed and are left for the next sweep; see the log",
            report.failed
        );
    }
    Ok(())
}
