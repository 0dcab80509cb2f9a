//! A local Lambda runtime API (the interface a real function's runtime polls,
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), with the Extensions API
//! beside it (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>):
//! hands out queued events to the runtime and INVOKE events to registered extensions, and
//! collects the function's responses and errors. Listens on a loopback port.
//!
//! It can also freeze the function as Lambda does: the invocation ends when the runtime has
//! posted its response and asked for the next event *and* every registered extension has
//! asked for its next event; then the process is stopped (`SIGSTOP`) until the next event is
//! queued (`SIGCONT`), so whatever the function left running gets no further.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use tokio::sync::{mpsc, watch, Mutex};

/// Who is waiting for what, for the freeze.
#[derive(Default)]
struct Phase {
    /// The process to stop, once [`LambdaApi::freeze_when_done`] was asked for.
    pid: Option<u32>,
    /// Registered extensions, by identifier, with the INVOKE events each was handed.
    extensions: std::collections::HashMap<String, u64>,
    /// Extensions that have asked for their next event since the last invocation.
    extensions_waiting: usize,
    /// Whether the runtime has asked for its next event since the last invocation.
    runtime_waiting: bool,
    /// Invocations handed out so far.
    invocations: u64,
    /// Whether the process is stopped now, and how often it was.
    frozen: bool,
    freezes: u64,
}

#[derive(Clone)]
struct Runtime {
    events: Arc<Mutex<mpsc::Receiver<String>>>,
    responses: mpsc::Sender<Result<String, String>>,
    phase: Arc<StdMutex<Phase>>,
    /// The count of invocations, for extensions waiting for an INVOKE event.
    invoked: watch::Sender<u64>,
    next_id: Arc<AtomicU64>,
}

fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .args([name, &pid.to_string()])
        .status();
}

impl Runtime {
    /// Stops the process when the invocation is over: runtime and extensions all waiting.
    fn freeze_if_done(&self) {
        let mut phase = self.phase.lock().expect("phase");
        let done = phase.invocations > 0
            && phase.runtime_waiting
            && phase.extensions_waiting >= phase.extensions.len()
            && !phase.frozen;
        if let (true, Some(pid)) = (done, phase.pid) {
            signal(pid, "-STOP");
            phase.frozen = true;
            phase.freezes += 1;
        }
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis()
}

async fn next_event(State(rt): State<Runtime>) -> axum::response::Response {
    rt.phase.lock().expect("phase").runtime_waiting = true;
    rt.freeze_if_done();
    let Some(event) = rt.events.lock().await.recv().await else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    // An invocation starts only once every registered extension has asked for its next event
    // (the init phase, or the previous invocation, is over for all of them).
    loop {
        {
            let mut phase = rt.phase.lock().expect("phase");
            if phase.extensions_waiting >= phase.extensions.len() {
                phase.runtime_waiting = false;
                phase.invocations += 1;
                rt.invoked.send_replace(phase.invocations);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", "invocation-1")
        .header(
            "lambda-runtime-deadline-ms",
            (now_ms() + 30_000).to_string(),
        )
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

/// `POST /2020-01-01/extension/register`: `Lambda-Extension-Name` and `{"events": [...]}` in,
/// `Lambda-Extension-Identifier` and the function's name, version and handler out.
async fn register(
    State(rt): State<Runtime>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let named = headers.contains_key("lambda-extension-name");
    let events: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if !named || events["events"] != serde_json::json!(["INVOKE"]) {
        // Internal extensions may register for INVOKE only.
        return (axum::http::StatusCode::BAD_REQUEST, "bad registration").into_response();
    }
    let id = format!(
        "a1b2c3d4-5678-90ab-cdef-{:012}",
        rt.next_id.fetch_add(1, Ordering::SeqCst)
    );
    rt.phase
        .lock()
        .expect("phase")
        .extensions
        .insert(id.clone(), 0);
    let body = serde_json::json!({
        "functionName": "otpbot", "functionVersion": "$LATEST", "handler": "bootstrap"
    });
    ([("lambda-extension-identifier", id)], axum::Json(body)).into_response()
}

/// `GET /2020-01-01/extension/event/next`: the next INVOKE event, once the runtime has one.
async fn extension_next(State(rt): State<Runtime>, headers: HeaderMap) -> axum::response::Response {
    let id = headers
        .get("lambda-extension-identifier")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let seen = {
        let mut phase = rt.phase.lock().expect("phase");
        let Some(seen) = phase.extensions.get(&id).copied() else {
            return (axum::http::StatusCode::FORBIDDEN, "unknown extension").into_response();
        };
        phase.extensions_waiting += 1;
        seen
    };
    rt.freeze_if_done();
    let mut invoked = rt.invoked.subscribe();
    let _ = invoked.wait_for(|n| *n > seen).await;
    {
        let mut phase = rt.phase.lock().expect("phase");
        phase.extensions_waiting = phase.extensions_waiting.saturating_sub(1);
        if let Some(delivered) = phase.extensions.get_mut(&id) {
            *delivered += 1;
        }
    }
    let body = serde_json::json!({
        "eventType": "INVOKE",
        "deadlineMs": (now_ms() + 30_000) as u64,
        "requestId": "invocation-1",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:otpbot",
        "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-5759e988-bd862e3fe1be46a994272793"}
    });
    (
        [("lambda-extension-event-identifier", "event-1")],
        axum::Json(body),
    )
        .into_response()
}

use axum::response::IntoResponse;

/// A running runtime API: queue events with `events` (or [`LambdaApi::invoke`] when the
/// function may be frozen), read answers from `answers`.
pub struct LambdaApi {
    pub addr: SocketAddr,
    pub events: mpsc::Sender<String>,
    pub answers: mpsc::Receiver<Result<String, String>>,
    phase: Arc<StdMutex<Phase>>,
}

impl LambdaApi {
    /// Starts the API on a free loopback port.
    pub async fn start() -> Self {
        let (events, event_rx) = mpsc::channel(4);
        let (answer_tx, answers) = mpsc::channel(4);
        let phase = Arc::new(StdMutex::new(Phase::default()));
        let runtime = Runtime {
            events: Arc::new(Mutex::new(event_rx)),
            responses: answer_tx,
            phase: phase.clone(),
            invoked: watch::Sender::new(0),
            next_id: Arc::new(AtomicU64::new(1)),
        };
        let api = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_event))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .route("/2020-01-01/extension/register", post(register))
            .route("/2020-01-01/extension/event/next", get(extension_next))
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
            phase,
        }
    }

    /// From now on, stops process `pid` whenever an invocation is over, as Lambda freezes it.
    pub fn freeze_when_done(&self, pid: u32) {
        self.phase.lock().expect("phase").pid = Some(pid);
    }

    /// Queues `event`, first thawing the process if it is frozen.
    pub async fn invoke(&self, event: String) {
        {
            let mut phase = self.phase.lock().expect("phase");
            if let (true, Some(pid)) = (phase.frozen, phase.pid) {
                signal(pid, "-CONT");
                phase.frozen = false;
            }
        }
        self.events.send(event).await.expect("queue");
    }

    /// How many extensions registered.
    pub fn extensions(&self) -> usize {
        self.phase.lock().expect("phase").extensions.len()
    }

    /// How often the function was frozen so far.
    pub fn freezes(&self) -> u64 {
        self.phase.lock().expect("phase").freezes
    }
}

impl Drop for LambdaApi {
    fn drop(&mut self) {
        // A stopped process cannot be killed gracefully by its owner: let it run again.
        let phase = self.phase.lock().expect("phase");
        if let (true, Some(pid)) = (phase.frozen, phase.pid) {
            signal(pid, "-CONT");
        }
    }
}
