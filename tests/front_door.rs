//! The front door of `otpbot serve` (`otpbot::server::serve`) over real loopback sockets: a
//! client that trickles headers is dropped, oversized headers are refused, a slow request is cut
//! off, silent connections are closed and make room at the cap (hundreds of them cannot keep a
//! signed request from its answer), and shutdown lets in-flight requests finish.
//!
//! Limits are shortened so each attack resolves in about a second; every wait is bounded.

use std::time::Duration;

use crate::common;

use axum::routing::{get, post};
use axum::Router;
use otpbot::server::{serve, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout, Instant};

/// The longest any step may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(15);

fn limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_millis(1_500),
        max_header_bytes: 16 * 1024,
        max_connections: 4,
        idle_timeout: Duration::from_millis(600),
        shutdown_grace: Duration::from_secs(5),
    }
}

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                sleep(Duration::from_millis(400)).await;
                "done"
            }),
        )
        .route("/echo", post(|body: String| async move { body }))
}

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app(), limits, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Sends a whole request and returns the status code of the answer (0 if the server closed
/// the connection without one).
async fn status_of(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_status(&mut stream).await
}

async fn read_status(stream: &mut TcpStream) -> u16 {
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match timeout(BOUND, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                response.extend_from_slice(&buf[..n]);
                if response.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => panic!("no answer within {BOUND:?}"),
        }
    }
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

#[tokio::test]
async fn a_client_trickling_headers_is_dropped_while_others_are_served() {
    let server = start(limits()).await;
    let mut loris = TcpStream::connect(server.addr).await.expect("connect");
    loris
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut dropped = false;
    while started.elapsed() < BOUND {
        // One header line every 100 ms: the headers never end.
        if loris.write_all(b"x-a: b\r\n").await.is_err() {
            dropped = true;
            break;
        }
        let mut buf = [0u8; 256];
        match timeout(Duration::from_millis(100), loris.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                dropped = true;
                break;
            }
            // Some servers answer 408 before closing; that is a drop too.
            Ok(Ok(_)) => {
                dropped = true;
                break;
            }
            Err(_) => {}
        }
        assert_eq!(
            status_of(server.addr, GET).await,
            200,
            "other clients are served during the attack"
        );
    }
    assert!(
        dropped,
        "the trickling client was still connected after {BOUND:?}"
    );
    println!(
        "slow-loris connection dropped after {:?} (header read timeout {:?})",
        started.elapsed(),
        limits().header_read_timeout
    );
}

#[tokio::test]
async fn four_hundred_kilobytes_of_headers_are_refused() {
    let server = start(limits()).await;
    let mut request = b"GET / HTTP/1.1\r\nhost: localhost\r\n".to_vec();
    for i in 0..400 {
        request.extend_from_slice(format!("x-filler-{i}: {}\r\n", "a".repeat(1_000)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut read, mut write) = stream.split();
    // The server may stop reading and answer before the client has finished writing.
    let writing = async {
        let _ = write.write_all(&request).await;
    };
    let reading = async {
        let mut response = Vec::new();
        let _ = timeout(BOUND, read.read_to_end(&mut response)).await;
        response
    };
    let ((), response) = tokio::join!(writing, reading);
    let head = String::from_utf8_lossy(&response);
    assert!(
        head.starts_with("HTTP/1.1 431"),
        "expected 431 Request Header Fields Too Large, got {:?}",
        head.lines().next()
    );
    // Headers just under the cap still work.
    let mut fits = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n".to_vec();
    fits.extend_from_slice(format!("x-filler: {}\r\n\r\n", "a".repeat(12_000)).as_bytes());
    assert_eq!(status_of(server.addr, &fits).await, 200);
}

#[tokio::test]
async fn a_request_whose_body_trickles_is_cut_off() {
    let server = start(limits()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    // One byte every 50 ms: the body would take 50 s; the server stops reading long before.
    let trickle = async {
        for _ in 0..1_000 {
            if stream.write_all(b"a").await.is_err() {
                break;
            }
            sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        () = trickle => {}
        () = sleep(BOUND) => panic!("still reading the body after {BOUND:?}"),
    }
    let answer = read_status(&mut stream).await;
    assert_eq!(answer, 408, "after {:?}", started.elapsed());
}

/// Whether the server has closed `stream` (an answer of 0 bytes, or a reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let server = start(Limits {
        header_read_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, BOUND).await,
        "still open after {BOUND:?}"
    );
    println!(
        "a silent connection closed after {:?} (idle timeout {:?})",
        started.elapsed(),
        limits().idle_timeout
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // So is one kept alive after its answer and then left silent.
    let mut kept = TcpStream::connect(server.addr).await.expect("connect");
    kept.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_status(&mut kept).await, 200);
    assert!(
        closed_within(&mut kept, BOUND).await,
        "kept-alive still open"
    );
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let server = start(Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut oldest = TcpStream::connect(server.addr).await.expect("connect");
    sleep(Duration::from_millis(100)).await;
    let mut newer = TcpStream::connect(server.addr).await.expect("connect");
    sleep(Duration::from_millis(100)).await;
    let third = timeout(Duration::from_secs(3), status_of(server.addr, GET))
        .await
        .expect("a third connection is served at once, past the cap of 2");
    assert_eq!(third, 200);
    assert!(
        closed_within(&mut oldest, Duration::from_secs(3)).await,
        "the longest idle connection made room"
    );
    assert!(
        !closed_within(&mut newer, Duration::from_millis(300)).await,
        "the newer idle connection stays"
    );
}

/// 300 sockets opened and left silent (more than the 256 connections kept) cannot lock the
/// door: with the server's own limits a signed slash command is answered within Slack's 3 s.
#[tokio::test]
async fn three_hundred_idle_sockets_cannot_keep_a_signed_request_from_its_answer() {
    let app = common::TestApp::spawn().await;
    app.slash(common::ADMIN, "grant <@UALICE> github for 1h")
        .await
        .ephemeral();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(
        listener,
        app.router.clone(),
        Limits::default(),
        std::future::pending(),
    ));
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    sleep(Duration::from_millis(200)).await;
    let body = common::slash_body(common::TEAM, "UALICE", "github");
    let ts = app.now().unix();
    let request = format!(
        "POST /slack/commands HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         x-slack-request-timestamp: {ts}\r\nx-slack-signature: {}\r\n\r\n{body}",
        body.len(),
        common::signature(ts, body.as_bytes())
    );
    let started = Instant::now();
    let status = timeout(Duration::from_secs(10), status_of(addr, request.as_bytes()))
        .await
        .expect("answered at all");
    let answered = started.elapsed();
    println!(
        "answered in {answered:?} beside {} idle sockets",
        idle.len()
    );
    assert_eq!(status, 200);
    assert!(answered < Duration::from_secs(3), "{answered:?}");
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let mut server = start(limits()).await;
    let in_flight = tokio::spawn(status_of(
        server.addr,
        b"GET /slow HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    ));
    sleep(Duration::from_millis(100)).await;
    server
        .stop
        .take()
        .expect("stop")
        .send(())
        .expect("server running");
    assert_eq!(
        in_flight.await.expect("task"),
        200,
        "the in-flight request completed"
    );
    timeout(BOUND, server.task)
        .await
        .expect("serve returned after draining")
        .expect("task");
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no new connections after shutdown"
    );
}
