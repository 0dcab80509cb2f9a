//! Serving the router on an address until SIGTERM or Ctrl-C (`crate::server`), with the signed
//! audit checkpoints published at start, on schedule and once the last request has finished,
//! and the follow-ups still running let finish within reason.

use std::net::SocketAddr;

use super::checkpoints::Publisher;
use super::router::router;
use super::state::AppState;
use crate::server;

/// Listens on `listen`, or says what holds it and what to do.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
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

/// Makes the text to print from the bound address, once listening.
pub type Banner = Box<dyn FnOnce(SocketAddr) -> String + Send>;

/// Serves `state` on `listen` until interrupted (Socket Mode's HTTP side); with a publisher,
/// publishes an audit checkpoint at start, every interval, and once more after the last
/// request has finished.
pub async fn run_server(
    state: AppState,
    listen: SocketAddr,
    banner: Option<Banner>,
    checkpoints: Option<(Publisher, std::time::Duration)>,
) -> anyhow::Result<()> {
    serve_on(state, bind(listen).await?, banner, checkpoints).await
}

/// Serves `state` on `listener` until interrupted (SIGTERM, Ctrl-C), printing the banner once
/// listening, and publishing checkpoints as `run_server` says.
pub async fn serve_on(
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
    server::serve(
        listener,
        router(state),
        server::Limits::default(),
        server::shutdown_signal(),
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
