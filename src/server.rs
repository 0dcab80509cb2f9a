//! The front door of `otpbot serve`: the HTTP/1 listener in front of [`crate::http::router`].
//!
//! It bounds what one client can hold: headers must arrive within a deadline (a client that
//! trickles them, or idles on a kept-alive connection, is dropped), headers are capped in size
//! (larger ones get `431`), every request has a whole-request deadline (`408` once it passes,
//! body reading included), and only so many connections are served at once (further ones wait in
//! the listen backlog). On shutdown it stops accepting, lets in-flight requests finish within a
//! grace period, and returns. On Lambda none of this applies: the platform is the front door.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one client may hold of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time allowed for a request's headers, counted from when the server starts waiting for
    /// them (so it also ends idle kept-alive connections).
    pub header_read_timeout: Duration,
    /// Time allowed for one request, from its headers to the response (body included).
    pub request_timeout: Duration,
    /// Largest request line plus headers, in bytes.
    pub max_header_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            max_connections: 256,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let timeout = limits.request_timeout;
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |request| handle(router.clone(), timeout, request)),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("shutdown grace period over, closing remaining connections");
        }
    }
}

/// One request through the router, under the whole-request deadline.
async fn handle(
    router: Router,
    timeout: Duration,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    match tokio::time::timeout(timeout, router.oneshot(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request took longer than the request timeout; answered 408");
            Ok((StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response())
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: what a terminal or a supervisor sends.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("interrupted"),
        () = terminate => tracing::info!("terminated"),
    }
}
