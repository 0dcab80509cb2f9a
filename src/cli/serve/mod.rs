//! `otpbot serve` and `otpbot demo`.

use std::net::SocketAddr;

use anyhow::bail;
use clap::Args;

use super::checkpoint::Publisher;
use super::App;
use crate::config::Settings;
use crate::http::{router, AppState};

/// Options of `serve` and `demo` beyond the settings (`--listen`, `--teams-playground` and
/// the rest are settings: see [`crate::config::SettingsArgs`]).
#[derive(Debug, Args)]
pub struct ServeArgs {}

#[cfg(feature = "local")]
mod demo;

/// The workspace `otpbot demo` serves, and `otpbot slash` sends as by default.
pub const DEMO_TEAM: &str = "T0DEMO";

/// Serves with the configured settings.
pub async fn serve(mut settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    let listen = settings.listen;
    if settings.teams.as_ref().is_some_and(|t| t.playground) {
        check_playground(listen)?;
        tracing::warn!(
            %listen,
            "Teams playground mode: Teams activities are accepted WITHOUT authentication and \
             replies go to the playground's loopback http service URL; for a local try-out only"
        );
    }
    if settings.teams.as_ref().is_some_and(|t| !t.playground) {
        check_trust_store("the Bot Framework")?;
    }
    if settings.slack_socket_mode {
        check_trust_store("Slack (Socket Mode)")?;
    }
    if settings.slack_socket_mode {
        return super::socket_mode::serve(settings, listen).await;
    }
    check_front_ends(&settings)?;
    // Bound before the store is opened: a busy port leaves nothing behind.
    let listener = bind(listen).await?;
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, super::Patience::Chat).await?;
    let checkpoints = app.checkpoints.clone();
    let state = app.into_state(&settings).await?;
    let publisher = Publisher::new(checkpoints, &settings, Some(&state));
    serve_on(
        state,
        listener,
        None,
        Some((publisher, settings.checkpoint_every)),
    )
    .await
}

/// Refuses, before anything is created, settings that cannot serve: no front end at all, or
/// one whose secret is nowhere (not in the environment, and no local store that might hold it).
fn check_front_ends(settings: &Settings) -> anyhow::Result<()> {
    if !settings.slack_enabled() && settings.teams.is_none() {
        bail!(
            "neither Slack nor Teams is configured: set OTPBOT_SLACK_SIGNING_SECRET and \
             OTPBOT_SLACK_TEAM_IDS for Slack, OTPBOT_TEAMS_APP_ID and OTPBOT_TEAMS_TENANT_IDS \
             for Teams (or try `otpbot demo`)"
        );
    }
    let local = settings.backend == crate::config::Backend::Local;
    #[cfg(feature = "local")]
    let store = settings
        .data_dir
        .join(crate::store::local::DB_FILE)
        .is_file();
    #[cfg(not(feature = "local"))]
    let store = false;
    if local && !store && settings.slack_enabled() && settings.signing_secret().is_none() {
        bail!(
            "OTPBOT_SLACK_SIGNING_SECRET is not set: set it (or OTPBOT_SLACK_SIGNING_SECRET_FILE) \
             to the Slack app's signing secret, or keep it in the store with `otpbot secret set \
             slack-signing-secret`"
        );
    }
    let teams_secret = settings
        .teams
        .as_ref()
        .is_none_or(|t| t.playground || t.client_secret.is_some());
    if local && !store && !teams_secret {
        bail!(
            "OTPBOT_TEAMS_CLIENT_SECRET is not set: set it (or OTPBOT_TEAMS_CLIENT_SECRET_FILE) \
             to the bot's client secret, or keep it in the store with `otpbot secret set \
             teams-client-secret`"
        );
    }
    Ok(())
}

/// Listens on `listen`, or says what holds it and what to do.
pub(super) async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                let mut other = listen;
                other.set_port(listen.port().wrapping_add(1).max(1));
                anyhow::anyhow!(
                    "cannot listen on {listen}: the address is in use, by another otpbot (a demo \
                     still running?) or another program; stop it (Ctrl-C in its terminal), or \
                     listen elsewhere with --listen {other} (or OTPBOT_LISTEN)"
                )
            }
            _ => anyhow::anyhow!(
                "cannot listen on {listen}: {e}; choose another address with --listen (or \
                 OTPBOT_LISTEN), e.g. 127.0.0.1:3000"
            ),
        })
}

/// Teams needs outbound HTTPS, trusting the platform's CA store or, when either is set, only
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` (what the HTTP client loads): refuse to start with none.
fn check_trust_store(service: &str) -> anyhow::Result<()> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "some trusted CA certificates could not be read");
    }
    if found.certs.is_empty() {
        let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        bail!(
            "no trusted CA certificates found (the platform store, or SSL_CERT_FILE / \
             SSL_CERT_DIR when set), so {service} could not be reached over HTTPS{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            }
        );
    }
    Ok(())
}

/// The playground takes unauthenticated activities, so only this machine may reach otpbot.
fn check_playground(listen: SocketAddr) -> anyhow::Result<()> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        bail!("the Teams playground is a local try-out and is never available on AWS Lambda");
    }
    if !listen.ip().is_loopback() {
        bail!(
            "the Teams playground accepts Teams activities without authentication, so otpbot \
             must listen on a loopback address (e.g. 127.0.0.1:3000), not {listen}"
        );
    }
    Ok(())
}

/// Sets up the demo workspace, tool and admin, prints how to try it, and serves.
pub async fn demo(settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    if settings.teams.as_ref().is_some_and(|t| t.playground) {
        bail!("--teams-playground (OTPBOT_TEAMS_PLAYGROUND) is for `otpbot serve`; the demo serves Slack only");
    }
    if settings.slack_socket_mode {
        bail!("--slack-socket-mode (OTPBOT_SLACK_SOCKET_MODE) is for `otpbot serve`; the demo serves Slack over HTTP");
    }
    if settings.backend != crate::config::Backend::Local {
        bail!(
            "the demo runs on the local store only, never in a deployment's tables: unset \
             OTPBOT_BACKEND (or give --backend local)"
        );
    }
    #[cfg(not(feature = "local"))]
    return Err(super::no_local_store());
    #[cfg(feature = "local")]
    demo::run(settings).await
}

/// Makes the text to print from the bound address, once listening.
type Banner = Box<dyn FnOnce(SocketAddr) -> String + Send>;

/// Serves `state` on `listen` until interrupted (Socket Mode's HTTP side); with a publisher,
/// publishes an audit checkpoint at start, every interval, and once more after the last
/// request has finished.
pub(super) async fn run_server(
    state: AppState,
    listen: SocketAddr,
    banner: Option<Banner>,
    checkpoints: Option<(Publisher, std::time::Duration)>,
) -> anyhow::Result<()> {
    serve_on(state, bind(listen).await?, banner, checkpoints).await
}

/// Serves `state` on `listener` until interrupted (SIGTERM, Ctrl-C), printing the banner once
/// listening, and publishing checkpoints as [`run_server`] says.
async fn serve_on(
    state: AppState,
    listener: tokio::net::TcpListener,
    banner: Option<Banner>,
    checkpoints: Option<(Publisher, std::time::Duration)>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "otpbot listening");
    if let Some(banner) = banner {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the server: the banner is only a courtesy.
        let _ = writeln!(out, "{}", banner(addr)).and_then(|()| out.flush());
    }
    let periodic = checkpoints
        .as_ref()
        .map(|(publisher, every)| tokio::spawn(publisher.clone().every(*every)));
    let background = state.background.clone();
    crate::server::serve(
        listener,
        router(state),
        crate::server::Limits::default(),
        crate::server::shutdown_signal(),
    )
    .await;
    // Notices of the last requests still on their way are let finish, within reason.
    if !background
        .idle_within(std::time::Duration::from_secs(10))
        .await
    {
        tracing::warn!(
            running = background.running(),
            "follow-ups still running at exit were dropped"
        );
    }
    if let Some(periodic) = periodic {
        periodic.abort();
    }
    if let Some((publisher, _)) = checkpoints {
        publisher.publish("shutdown").await;
    }
    Ok(())
}
