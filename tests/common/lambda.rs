//! A local Lambda runtime API (the interface a real function's runtime polls,
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>): hands out queued events
//! and collects the function's responses and errors. Listens on a loopback port.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use tokio::sync::{mpsc, Mutex};

#[derive(Clone)]
struct Runtime {
    events: Arc<Mutex<mpsc::Receiver<String>>>,
    responses: mpsc::Sender<Result<String, String>>,
}

async fn next_event(State(rt): State<Runtime>) -> axum::response::Response {
    let Some(event) = rt.events.lock().await.recv().await else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis();
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", "invocation-1")
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
        .expect("response")
}

async fn respond(State(rt): State<Runtime>, Path(_id): Path<String>, body: String) -> &'static str {
    let _ = rt.responses.send(Ok(body)).await;
    "{}"
}

async fn error(State(rt): State<Runtime>, body: String) -> &'static str {
    let _ = rt.responses.send(Err(body)).await;
    "{}"
}

/// A running runtime API: queue events with `events`, read answers from `answers`.
pub struct LambdaApi {
    pub addr: SocketAddr,
    pub events: mpsc::Sender<String>,
    pub answers: mpsc::Receiver<Result<String, String>>,
}

impl LambdaApi {
    /// Starts the API on a free loopback port.
    pub async fn start() -> Self {
        let (events, event_rx) = mpsc::channel(4);
        let (answer_tx, answers) = mpsc::channel(4);
        let runtime = Runtime {
            events: Arc::new(Mutex::new(event_rx)),
            responses: answer_tx,
        };
        let api = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_event))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(runtime);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, api).await.expect("runtime api") });
        Self {
            addr,
            events,
            answers,
        }
    }
}
