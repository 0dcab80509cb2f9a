//! `otpbot serve` and `otpbot demo`: their options and checks; the serving is start-up's.

use anyhow::bail;
use clap::Args;

use crate::config::{Backend, Settings};

/// Options of `serve` and `demo` beyond the settings (`--listen`, `--teams-playground` and
/// the rest are settings: see [`crate::config::SettingsArgs`]).
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Serves with the configured settings.
pub async fn serve(settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    crate::startup::serve(settings).await
}

/// Sets up the demo workspace, tool and admin, prints how to try it, and serves.
pub async fn demo(settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    if settings.teams.as_ref().is_some_and(|t| t.playground) {
        bail!("--teams-playground (OTPBOT_TEAMS_PLAYGROUND) is for `otpbot serve`; the demo serves Slack only");
    }
    if settings.slack_socket_mode {
        bail!("--slack-socket-mode (OTPBOT_SLACK_SOCKET_MODE) is for `otpbot serve`; the demo serves Slack over HTTP");
    }
    if settings.backend != Backend::Local {
        bail!(
            "the demo runs on the local store only, never in a deployment's tables: unset \
             OTPBOT_BACKEND (or give --backend local)"
        );
    }
    #[cfg(not(feature = "local"))]
    return Err(crate::startup::no_local_store());
    #[cfg(feature = "local")]
    super::demo::run(settings).await
}
