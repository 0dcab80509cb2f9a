//! `otpbot serve` publishes signed audit checkpoints where the store's writer cannot rewrite
//! them: a structured log line and a post in the audit channel, when it starts, on its schedule
//! and when it stops; and what it published checks out with `otpbot audit verify --checkpoint`.
//!
//! The audit channel is reached through a local fake of Slack's Web API `chat.postMessage`
//! (<https://docs.slack.dev/reference/methods/chat.postMessage>: a JSON body with `channel`,
//! `text` and `blocks`, a bearer token; the answer `{"ok": true, "channel", "ts"}`).

use crate::common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use common::cli::Otpbot;
use serde_json::{json, Value};

const TOKEN: &str = "xoxb-audit-test";

type Posts = Arc<Mutex<Vec<Value>>>;

async fn method(
    State(posts): State<Posts>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes());
    if !authorized {
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    if name != "chat.postMessage" {
        return Json(json!({"ok": false, "error": "unknown_method"}));
    }
    posts.lock().expect("posts").push(body.clone());
    Json(json!({"ok": true, "channel": body["channel"], "ts": "1793700005.000100"}))
}

async fn fake_slack() -> (Posts, String) {
    let posts = Posts::default();
    let app = Router::new()
        .route("/api/{name}", post(method))
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (posts, format!("http://{addr}/api/"))
}

fn posted(posts: &Posts) -> Vec<Value> {
    posts.lock().expect("posts").clone()
}

/// The checkpoint a post carries, as the literal between backticks in its text.
fn checkpoint_in(post: &Value) -> Value {
    let text = post["text"].as_str().expect("text");
    let start = text.find("`{").expect("a checkpoint literal") + 1;
    let end = text[start..].find("}`").expect("its end") + start + 1;
    serde_json::from_str(&text[start..end]).expect("checkpoint JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_checkpoints_to_the_log_and_the_audit_channel_at_start_and_stop() {
    let (posts, api) = fake_slack().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = tempfile::NamedTempFile::new().expect("log");
    let otpbot = |args: &[&str]| {
        Otpbot::new()
            .data_dir(dir.path())
            .key_dir(dir.path().join("keys"))
            .args(args)
    };
    let out = otpbot(&["role", "add", "slack:T0DEMO:UAUD", "auditor"]).output();
    assert!(out.status.success());
    let mut server = otpbot(&["serve", "--listen", "127.0.0.1:0"])
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
        .env("OTPBOT_SLACK_BOT_TOKEN", TOKEN)
        .env("OTPBOT_SLACK_API_URL", &api)
        .env("OTPBOT_AUDIT_CHANNEL", "slack:C0AUDIT")
        .env("OTPBOT_CHECKPOINT_EVERY", "1h")
        .env("OTPBOT_LOG_FORMAT", "json")
        .command()
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("spawn serve");

    let deadline = Instant::now() + Duration::from_secs(60);
    while posted(&posts).is_empty() {
        assert!(Instant::now() < deadline, "no checkpoint posted at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let status = server.wait().expect("wait");
    assert!(status.success(), "{status:?}");

    let posts = posted(&posts);
    assert_eq!(posts.len(), 2, "at start and at stop: {posts:?}");
    assert!(posts.iter().all(|p| p["channel"] == "C0AUDIT"), "{posts:?}");
    let first = checkpoint_in(&posts[0]);
    assert_eq!(first["records"], 2, "the chain start and the role: {first}");
    assert_eq!(first["algorithm"], "ed25519");

    let lines = std::fs::read_to_string(log.path()).expect("log");
    let published: Vec<Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "audit checkpoint")
        .collect();
    let reasons: Vec<&str> = published
        .iter()
        .map(|l| l["reason"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(reasons, ["scheduled", "shutdown"], "{lines}");

    // What was published is what `verify --checkpoint` takes: the log itself, and the post.
    let from_slack = dir.path().join("from-slack.json");
    std::fs::write(&from_slack, first.to_string()).expect("write");
    let out = otpbot(&["audit", "verify", "--checkpoint"])
        .arg(log.path())
        .arg(&from_slack)
        .output();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("extends all 3 checkpoints given"), "{said}");
}

/// A channel that is neither Slack's nor Teams' is refused at start-up with the variable
/// named, rather than discovered when the first checkpoint cannot be posted.
#[test]
fn an_audit_channel_of_no_platform_is_refused_at_start() {
    for bad in ["#audit", "slack:#audit", "29:user", "c0lower"] {
        let out = Otpbot::new()
            .env("OTPBOT_AUDIT_CHANNEL", bad)
            .args(["audit", "verify"])
            .output();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && said.contains("OTPBOT_AUDIT_CHANNEL"),
            "{bad}: {said}"
        );
    }
}
