//! `otpbot serve`: the settings checked before anything is created, the address bound, the
//! backend opened, the state built and the router served (`crate::server`) until SIGTERM or
//! Ctrl-C; signed audit checkpoints published at start, on schedule and at the end; a sweep
//! every `OTPBOT_SWEEP_EVERY`.

use std::net::SocketAddr;

use anyhow::bail;

use super::app::{App, Patience};
use super::checkpoints::Publisher;
use super::listen::{bind, serve_on};
use super::socket_mode;
use super::sweep::{sweep_every, AbortOnDrop};
use crate::config::{Backend, Settings};

/// Serves with the configured settings.
pub async fn serve(mut settings: Settings) -> anyhow::Result<()> {
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
        return socket_mode::serve(settings, listen).await;
    }
    check_front_ends(&settings)?;
    // Bound before the store is opened: a busy port leaves nothing behind.
    let listener = bind(listen).await?;
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, Patience::Chat).await?;
    let checkpoints = app.checkpoints.clone();
    let state = app.into_state(&settings).await?;
    let publisher = Publisher::new(checkpoints, &settings, state.outbox());
    let sweeping = tokio::spawn(sweep_every(
        state.engine.clone(),
        state.outbox(),
        settings.sweep_every,
    ));
    let _sweeping = AbortOnDrop(sweeping);
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
    let local = settings.backend == Backend::Local;
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
