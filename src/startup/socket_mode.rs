//! `otpbot serve --slack-socket-mode`: Slack's requests arrive over a WebSocket otpbot opens
//! with the app-level token, so the machine needs outbound HTTPS only. The HTTP listener keeps
//! serving `/healthz` and Teams; the Slack HTTP endpoints stay on only when a signing secret is
//! configured. Not on Lambda, which cannot hold a WebSocket open.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};

use super::app::{App, Patience};
use super::checkpoints::Publisher;
use super::listen::run_server;
use super::state::{outbox, AppState};
use super::sweep::{sweep_every, AbortOnDrop};
use crate::config::Settings;
use crate::front::Background;
use crate::keys::SigningSecret;
use crate::server::shutdown_signal;
use crate::slack::socket;
use crate::slack::web::WebApi;
use crate::slack::SlackConfig;

/// Serves Slack over Socket Mode, and HTTP on `listen` beside it, until interrupted.
pub async fn serve(mut settings: Settings, listen: SocketAddr) -> anyhow::Result<()> {
    let token = app_token(&mut settings)?;
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, Patience::Chat).await?;
    // With a signing secret the HTTP endpoints stay on too; without one they answer 404.
    let signed = settings.signing_secret().is_some();
    let slack = Arc::new(slack_config(&app, &settings, signed).await?);
    let teams = app.teams_config(&settings).await?.map(Arc::new);
    let checkpoints = app.checkpoints.clone();
    let engine = Arc::new(app.engine);
    let opener = WebApi::new(&settings.slack_api_url, token.expose_secret().to_owned())
        .context("cannot set up outbound HTTPS: check SSL_CERT_FILE / SSL_CERT_DIR")?;
    let background = Background::recording_copies(engine.clone());
    let state = AppState {
        engine: engine.clone(),
        slack: signed.then(|| slack.clone()),
        teams,
        background: background.clone(),
    };
    // Checkpoints reach a Slack audit channel through the bot token, HTTP endpoints or not.
    let outbox = outbox(Some(&slack), state.teams.as_ref());
    let sweeping = tokio::spawn(sweep_every(
        engine.clone(),
        outbox.clone(),
        settings.sweep_every,
    ));
    let _sweeping = AbortOnDrop(sweeping);
    let publisher = Publisher::new(checkpoints, &settings, outbox);
    tracing::info!(http_slack_endpoints = signed, "slack socket mode starting");
    let socket = socket::run(engine, slack, background, opener, shutdown_signal());
    let every = settings.checkpoint_every;
    let server = run_server(state, listen, None, Some((publisher, every)));
    tokio::pin!(server);
    // A listener that cannot start (the address taken) ends the process with its error rather
    // than leaving Socket Mode running without /healthz or Teams.
    tokio::select! {
        served = &mut server => served,
        () = socket => server.await,
    }
}

/// The app-level token Socket Mode connects with, once the settings can serve it: not on
/// Lambda, an `xapp-` token, and workspaces to serve.
fn app_token(settings: &mut Settings) -> anyhow::Result<SecretString> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        bail!("Slack Socket Mode needs a long-running process; AWS Lambda cannot hold a WebSocket");
    }
    let token = settings.slack_app_token.take().context(
        "Socket Mode needs the app-level token (xapp-…, scope connections:write): set \
         OTPBOT_SLACK_APP_TOKEN or OTPBOT_SLACK_APP_TOKEN_FILE",
    )?;
    if !token.expose_secret().starts_with("xapp-") {
        bail!("OTPBOT_SLACK_APP_TOKEN is not an app-level token (they start with xapp-)");
    }
    if settings.slack_workspaces.is_empty() {
        bail!("OTPBOT_SLACK_TEAM_IDS is empty: name the Slack workspaces to serve");
    }
    Ok(token)
}

/// The Slack settings: as for HTTP when `signed`; else without a signing secret to check, as
/// Socket Mode checks none.
async fn slack_config(app: &App, settings: &Settings, signed: bool) -> anyhow::Result<SlackConfig> {
    if signed {
        return app.slack_config(settings).await;
    }
    Ok(SlackConfig {
        // Never used: the HTTP endpoints are off, and Socket Mode checks no signature.
        signing_secret: SigningSecret::new(hex::encode(rand::random::<[u8; 32]>())),
        allowed_workspaces: settings.slack_workspaces.clone(),
        web_api: app.slack_web_api(settings).await?,
    })
}
