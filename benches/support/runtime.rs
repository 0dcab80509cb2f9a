//! A local Lambda runtime API (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>)
//! that times what a function does: when it first asks for work (`GET …/invocation/next`, the
//! end of its init), when each event is handed to it, and when each answer arrives.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use tokio::sync::{mpsc, Mutex};

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<mpsc::Receiver<String>>>,
    first_next: Arc<OnceLock<Instant>>,
    handed: mpsc::UnboundedSender<Instant>,
    answers: mpsc::UnboundedSender<(Instant, Result<String, String>)>,
}

async fn next(State(rt): State<Shared>) -> axum::response::Response {
    let _ = rt.first_next.set(Instant::now());
    let Some(event) = rt.events.lock().await.recv().await else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let _ = rt.handed.send(Instant::now());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    axum::response::Response::builder()
        .header(
            "lambda-runtime-aws-request-id",
            format!("{:032x}", rand::random::<u128>()),
        )
        .header("lambda-runtime-deadline-ms", (now_ms + 30_000).to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:otpbot",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(event))
        .unwrap_or_default()
}

async fn respond(State(rt): State<Shared>, Path(_id): Path<String>, body: String) -> &'static str {
    let _ = rt.answers.send((Instant::now(), Ok(body)));
    "{}"
}

async fn error(State(rt): State<Shared>, body: String) -> &'static str {
    let _ = rt.answers.send((Instant::now(), Err(body)));
    "{}"
}

/// A running runtime API for one function process.
pub struct RuntimeApi {
    /// Where it listens (`AWS_LAMBDA_RUNTIME_API`).
    pub addr: SocketAddr,
    events: mpsc::Sender<String>,
    first_next: Arc<OnceLock<Instant>>,
    handed: mpsc::UnboundedReceiver<Instant>,
    answers: mpsc::UnboundedReceiver<(Instant, Result<String, String>)>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the API on a free loopback port.
    pub async fn start() -> Self {
        let (events, event_rx) = mpsc::channel(4);
        let (handed_tx, handed) = mpsc::unbounded_channel();
        let (answer_tx, answers) = mpsc::unbounded_channel();
        let first_next = Arc::new(OnceLock::new());
        let shared = Shared {
            events: Arc::new(Mutex::new(event_rx)),
            first_next: first_next.clone(),
            handed: handed_tx,
            answers: answer_tx,
        };
        let api = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, api).await;
        });
        Self {
            addr,
            events,
            first_next,
            handed,
            answers,
            server,
        }
    }

    /// Queues one event.
    pub async fn queue(&self, event: String) {
        self.events.send(event).await.expect("queue an event");
    }

    /// When the function first asked for work, if it has.
    pub fn first_next(&self) -> Option<Instant> {
        self.first_next.get().copied()
    }

    /// When the next event was handed out and when its answer came, with the answer.
    pub async fn invocation(&mut self) -> (Instant, Instant, String) {
        let wait = std::time::Duration::from_secs(60);
        let handed = tokio::time::timeout(wait, self.handed.recv())
            .await
            .expect("the function asked for work in time")
            .expect("runtime API up");
        let (answered, answer) = tokio::time::timeout(wait, self.answers.recv())
            .await
            .expect("an answer in time")
            .expect("runtime API up");
        let answer = answer.unwrap_or_else(|e| panic!("the function failed: {e}"));
        (handed, answered, answer)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
