//! The front door of `otpbot serve`: the HTTP/1 listener in front of [`crate::startup::router`].
//!
//! It bounds what one client can hold: headers must arrive within a deadline (a client that
//! trickles them is dropped), headers are capped in size (larger ones get `431`), every request
//! has a whole-request deadline (`408` once it passes, body reading included), and only so many
//! connections are kept at once. Idle connections cannot lock others out: one that sends nothing
//! for [`Limits::idle_timeout`] (after it opened, or after its last answer) is closed, and at the
//! connection cap the connection idle the longest is closed to make room for the new one, so a
//! few hundred sockets opened and left silent delay nobody. On shutdown it stops accepting, lets
//! in-flight requests finish within a grace period, and returns. On Lambda none of this
//! applies: the platform is the front door.
//!
//! A connection is closed without a word when it has never been answered (nothing can be
//! pending on it); otherwise through hyper's graceful shutdown, which finishes a request in
//! flight and closes a connection waiting between requests at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

/// What one client may hold of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time allowed for a request's headers, from when the server starts waiting for them.
    pub header_read_timeout: Duration,
    /// Time allowed for one request, from its headers to the response (body included).
    pub request_timeout: Duration,
    /// Largest request line plus headers, in bytes.
    pub max_header_bytes: usize,
    /// Connections kept at once; at the cap the one idle the longest makes room.
    pub max_connections: usize,
    /// How long a connection may send nothing, after it opened or after its last answer,
    /// before it is closed.
    pub idle_timeout: Duration,
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
            idle_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What the server knows of one connection.
struct Slot {
    /// When it last read a byte or finished an answer, in ms since the server started.
    active: AtomicU64,
    /// Requests being served on it now.
    in_flight: AtomicUsize,
    /// Requests answered on it so far.
    answered: AtomicU64,
    /// Told to close (evicted to make room).
    evict: Notify,
}

/// The connections kept, so the one idle the longest can make room.
struct Registry {
    started: Instant,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
    /// Signalled when a connection leaves.
    left: Notify,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A slot for a new connection; at `cap`, first evicts the idle connection that has been
    /// quiet the longest, or waits for one to leave when every connection is busy.
    async fn admit(&self, cap: usize) -> (u64, Arc<Slot>) {
        loop {
            let left = self.left.notified();
            if let Some(admitted) = self.try_admit(cap) {
                return admitted;
            }
            left.await;
        }
    }

    fn try_admit(&self, cap: usize) -> Option<(u64, Arc<Slot>)> {
        let mut slots = self.slots.lock().ok()?;
        if slots.len() >= cap.max(1) {
            let victim = slots
                .iter()
                .filter(|(_, s)| s.in_flight.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, s)| s.active.load(Ordering::SeqCst))
                .map(|(id, _)| *id)?;
            if let Some(slot) = slots.remove(&victim) {
                tracing::debug!("connection cap reached: the longest idle connection is closed");
                slot.evict.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            active: AtomicU64::new(self.now_ms()),
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            evict: Notify::new(),
        });
        slots.insert(id, slot.clone());
        Some((id, slot))
    }

    fn leave(&self, id: u64) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(&id);
        }
        self.left.notify_waiters();
    }
}

/// The socket, noting every byte read as activity of its connection.
struct Watched {
    stream: TcpStream,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = self.registry.now_ms();
            self.slot.active.store(now, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry {
        started: Instant::now(),
        slots: Mutex::new(HashMap::new()),
        next: AtomicU64::new(0),
        left: Notify::new(),
    });
    let (stop, stopping) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener) => accepted,
        };
        let (id, slot) = tokio::select! {
            () = &mut shutdown => break,
            admitted = registry.admit(limits.max_connections) => admitted,
        };
        let io = Watched {
            stream,
            slot,
            registry: registry.clone(),
        };
        let job = connection(
            io,
            router.clone(),
            builder.clone(),
            limits,
            stopping.clone(),
        );
        connections.spawn(counted(job, registry.clone(), id, peer));
        // Reap the connections that ended, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    drain(connections, stop, limits.shutdown_grace).await;
}

/// Runs connection `id` from `peer` to its end, then lets `registry` know it left.
async fn counted(
    job: impl Future<Output = Result<(), hyper::Error>>,
    registry: Arc<Registry>,
    id: u64,
    peer: std::net::SocketAddr,
) {
    if let Err(e) = job.await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    registry.leave(id);
}

/// Stops accepting requests on the open `connections` (through `stop`) and waits for the
/// in-flight ones to finish, `grace` at most.
async fn drain(
    mut connections: tokio::task::JoinSet<()>,
    stop: watch::Sender<bool>,
    grace: Duration,
) {
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = drained => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period over, closing remaining connections");
        }
    }
}

/// The next connection, backing off after a failed accept (out of file descriptors and the
/// like) rather than spinning.
async fn accept(listener: &TcpListener) -> (TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(pair) => return pair,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one connection until it ends, closing it when it idles, is evicted, or the server
/// stops.
async fn connection(
    io: Watched,
    router: Router,
    builder: http1::Builder,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) -> Result<(), hyper::Error> {
    let slot = io.slot.clone();
    let registry = io.registry.clone();
    let service = {
        let slot = slot.clone();
        let registry = registry.clone();
        hyper::service::service_fn(move |request| {
            answer(
                router.clone(),
                limits.request_timeout,
                request,
                slot.clone(),
                registry.clone(),
            )
        })
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    // It said nothing for too long, was evicted to make room, or the server is stopping.
    let close = async {
        tokio::select! {
            () = slot.evict.notified() => {}
            () = quiet(&slot, &registry, limits.idle_timeout) => {}
            _ = stopping.wait_for(|stop| *stop) => {}
        }
    };
    tokio::select! {
        ended = conn.as_mut() => return ended,
        () = close => {}
    }
    if slot.answered.load(Ordering::SeqCst) == 0 && slot.in_flight.load(Ordering::SeqCst) == 0 {
        // Never answered and nothing in flight: nothing is pending, so it just goes.
        return Ok(());
    }
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(limits.request_timeout, conn).await {
        Ok(ended) => ended,
        Err(_) => Ok(()),
    }
}

/// Completes once the connection has had no request in flight and read nothing for `idle`.
async fn quiet(slot: &Slot, registry: &Registry, idle: Duration) {
    loop {
        let since = slot.active.load(Ordering::SeqCst);
        let wake = registry.started + Duration::from_millis(since) + idle;
        tokio::time::sleep_until(wake).await;
        let busy = slot.in_flight.load(Ordering::SeqCst) > 0;
        if !busy && slot.active.load(Ordering::SeqCst) == since {
            return;
        }
    }
}

/// One request through the router, under the whole-request deadline, counted in flight.
async fn answer(
    router: Router,
    timeout: Duration,
    request: Request<Incoming>,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
) -> Result<Response, Infallible> {
    slot.in_flight.fetch_add(1, Ordering::SeqCst);
    let response = match tokio::time::timeout(timeout, router.oneshot(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request took longer than the request timeout; answered 408");
            Ok((StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response())
        }
    };
    slot.answered.fetch_add(1, Ordering::SeqCst);
    slot.active.store(registry.now_ms(), Ordering::SeqCst);
    slot.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
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
