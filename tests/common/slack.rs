//! A local fake of the Slack Web API that records every call, and the response URLs Slack
//! hands out with interactions and slash commands.
//!
//! It answers as Slack's Web API does (<https://docs.slack.dev/apis/web-api/>): JSON with `ok`,
//! `error` when it is false; bearer token in `Authorization`; rate limiting as HTTP 429 with
//! `Retry-After` in seconds (<https://docs.slack.dev/apis/web-api/rate-limits>).
//! `chat.postMessage` answers `{"ok": true, "channel", "ts"}`
//! (<https://docs.slack.dev/reference/methods/chat.postMessage>), `chat.update` `{"ok": true,
//! "channel", "ts", "text"}` (<https://docs.slack.dev/reference/methods/chat.update>),
//! `conversations.open` `{"ok": true, "channel": {"id"}}`
//! (<https://docs.slack.dev/reference/methods/conversations.open>). A post to a response URL is
//! answered `ok` ("Handling user interaction":
//! <https://docs.slack.dev/interactivity/handling-user-interaction>).
//! `usergroups.users.list` takes its arguments form-encoded only ("This method does not
//! currently accept application/json") and answers `{"ok": true, "users": ["U…", "W…"]}`, or
//! `no_such_subteam`, or `plan_upgrade_required` on a workspace whose plan has no user groups
//! (<https://api.slack.com/methods/usergroups.users.list>); a test sets each group's members.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::BOT_TOKEN;

/// One recorded call: method (or `hook:{path}`), `Authorization` header, JSON body.
pub type Call = (String, String, Value);

/// The fake Web API and its response URLs.
#[derive(Clone, Default)]
pub struct FakeWebApi {
    calls: Arc<Mutex<Vec<Call>>>,
    /// How many calls to answer with 429 first, and the `Retry-After` they carry.
    limited: Arc<Mutex<(u32, u64)>>,
    /// Methods answered `ok: false`.
    failing: Arc<Mutex<HashSet<String>>>,
    /// Each user group's members, by `{team}:{group}`.
    groups: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// What `usergroups.users.list` answers instead of the members: an `error`, or `429`.
    groups_fail: Arc<Mutex<Option<String>>>,
    /// Where `/redirect/…` sends its callers with a `307`.
    redirect_to: Arc<Mutex<String>>,
    base: String,
    /// Messages posted so far (each `ts` is unique).
    posted: Arc<std::sync::atomic::AtomicU64>,
    /// The channel and `ts` of the last message posted.
    last_post: Arc<Mutex<Option<(String, String)>>>,
}

async fn method(
    State(fake): State<FakeWebApi>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    fake.record(name.clone(), auth.clone(), body.clone());
    {
        let mut limited = fake.limited.lock().expect("limited");
        if limited.0 > 0 {
            limited.0 -= 1;
            let wait = limited.1.to_string();
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", wait)], "").into_response();
        }
    }
    if auth != format!("Bearer {BOT_TOKEN}") {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    if fake.failing.lock().expect("failing").contains(&name) {
        return Json(json!({"ok": false, "error": "channel_not_found"})).into_response();
    }
    match name.as_str() {
        // Each message gets a `ts` of its own, as in Slack, where it is the message's id.
        "chat.postMessage" => Json(json!({
            "ok": true,
            "channel": body["channel"],
            "ts": fake.post_ts(&body),
            "message": {"text": body["text"]}
        }))
        .into_response(),
        "chat.update" => Json(json!({
            "ok": true,
            "channel": body["channel"],
            "ts": body["ts"],
            "text": body["text"]
        }))
        .into_response(),
        "conversations.open" => Json(json!({
            "ok": true,
            "channel": {"id": format!("D0{}", body["users"].as_str().unwrap_or_default())}
        }))
        .into_response(),
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// `usergroups.users.list`, form-encoded, as Slack takes it; a JSON body is refused as Slack
/// would not read its arguments.
async fn usergroup_users(
    State(fake): State<FakeWebApi>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    fake.record(
        "usergroups.users.list".into(),
        auth.clone(),
        serde_json::to_value(&form).expect("form"),
    );
    if auth != format!("Bearer {BOT_TOKEN}") {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let failure = fake.groups_fail.lock().expect("fail").clone();
    match failure.as_deref() {
        Some("429") => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], "").into_response()
        }
        // Answers, but only after otpbot has stopped waiting.
        Some("slow") => tokio::time::sleep(std::time::Duration::from_secs(3)).await,
        Some(error) => return Json(json!({"ok": false, "error": error})).into_response(),
        None => {}
    }
    let (Some(group), team) = (form.get("usergroup"), form.get("team_id")) else {
        return Json(json!({"ok": false, "error": "invalid_arguments"})).into_response();
    };
    let key = format!("{}:{group}", team.map(String::as_str).unwrap_or_default());
    let users = fake.groups.lock().expect("groups").get(&key).cloned();
    match users {
        Some(users) => Json(json!({"ok": true, "users": users})).into_response(),
        None => Json(json!({"ok": false, "error": "no_such_subteam"})).into_response(),
    }
}

async fn hook(
    State(fake): State<FakeWebApi>,
    Path(path): Path<String>,
    Json(body): Json<Value>,
) -> &'static str {
    fake.record(format!("hook:{path}"), String::new(), body);
    "ok"
}

/// Answers anything with `307 Temporary Redirect` to the configured target, which keeps the
/// method and body (RFC 9110, section 15.4.8).
async fn redirect(State(fake): State<FakeWebApi>, Path(path): Path<String>) -> Response {
    fake.record(format!("redirect:{path}"), String::new(), Value::Null);
    let to = fake.redirect_to.lock().expect("target").clone();
    (StatusCode::TEMPORARY_REDIRECT, [("location", to)], "").into_response()
}

impl FakeWebApi {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let fake = FakeWebApi {
            base: format!("http://{addr}"),
            ..FakeWebApi::default()
        };
        let app = Router::new()
            .route("/api/usergroups.users.list", post(usergroup_users))
            .route("/api/{name}", post(method))
            .route("/hooks/{*path}", post(hook))
            .route("/redirect/{*path}", any(redirect))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        fake
    }

    /// The `ts` of a new message posted with `body`, remembered with its channel.
    fn post_ts(&self, body: &Value) -> String {
        let n = self
            .posted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ts = format!("1793700005.{:06}", 100 + n);
        let channel = body["channel"].as_str().unwrap_or_default().to_owned();
        *self.last_post.lock().expect("last post") = Some((channel, ts.clone()));
        ts
    }

    /// The channel and `ts` of the last message posted (kept through [`FakeWebApi::clear`]):
    /// where a click on that message comes from.
    pub fn last_post(&self) -> Option<(String, String)> {
        self.last_post.lock().expect("last post").clone()
    }

    fn record(&self, name: String, auth: String, body: Value) {
        self.calls.lock().expect("calls").push((name, auth, body));
    }

    /// The Web API base URL (the `OTPBOT_SLACK_API_URL` setting).
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.base)
    }

    /// A response URL of this fake (on the Web API's origin, as otpbot allows in tests).
    pub fn hook_url(&self, path: &str) -> String {
        format!("{}/hooks/{path}", self.base)
    }

    /// A URL on the Web API's origin that answers `307` to `target`.
    pub fn redirecting_url(&self, path: &str, target: &str) -> String {
        *self.redirect_to.lock().expect("target") = target.to_owned();
        format!("{}/redirect/{path}", self.base)
    }

    /// Answers the next `calls` calls with 429 and `Retry-After: retry_after`.
    pub fn rate_limit(&self, calls: u32, retry_after: u64) {
        *self.limited.lock().expect("limited") = (calls, retry_after);
    }

    /// Answers every call of `method` with `ok: false`.
    pub fn fail(&self, method: &str) {
        self.failing
            .lock()
            .expect("failing")
            .insert(method.to_owned());
    }

    /// Sets the members of user group `group` of workspace `team`.
    pub fn set_group(&self, team: &str, group: &str, users: &[&str]) {
        let users = users.iter().map(|u| (*u).to_owned()).collect();
        self.groups
            .lock()
            .expect("groups")
            .insert(format!("{team}:{group}"), users);
    }

    /// Makes `usergroups.users.list` answer `error` (`"429"`: HTTP 429; `"slow"`: after 3 s),
    /// or normally again.
    pub fn fail_groups(&self, error: Option<&str>) {
        *self.groups_fail.lock().expect("fail") = error.map(str::to_owned);
    }

    /// How many times the members of a group were asked for.
    pub fn group_lookups(&self) -> usize {
        self.names()
            .iter()
            .filter(|n| *n == "usergroups.users.list")
            .count()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    /// The names of every call so far, in order.
    pub fn names(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.0).collect()
    }

    /// The bodies of the calls named `name`, in order.
    pub fn bodies(&self, name: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.0 == name)
            .map(|c| c.2)
            .collect()
    }

    /// Forgets the calls so far.
    pub fn clear(&self) {
        self.calls.lock().expect("calls").clear();
    }
}

/// A server that records every request it gets (method, path, body): where a redirect would
/// lead.
#[derive(Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    /// Its base URL.
    pub url: String,
}

impl Recorder {
    /// Starts the recorder on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let recorder = Recorder {
            url: format!("http://{addr}"),
            ..Recorder::default()
        };
        let seen = recorder.seen.clone();
        let app = Router::new().fallback(
            move |method: axum::http::Method, uri: axum::http::Uri, body: String| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .expect("seen")
                        .push((method.to_string(), uri.to_string(), body));
                    "ok"
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        recorder
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<(String, String, String)> {
        self.seen.lock().expect("seen").clone()
    }
}

/// The button labelled `label` in a Block Kit message as otpbot wrote it: an element of an
/// `actions` block (<https://docs.slack.dev/reference/block-kit/blocks/actions-block>).
pub fn button<'a>(message: &'a Value, label: &str) -> &'a Value {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .find(|e| e["text"]["text"] == label)
        .unwrap_or_else(|| panic!("no {label} button in {message}"))
}

/// The button labelled `label`'s `action_id` and `value`, which a click sends back in a
/// `block_actions` payload
/// (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>).
pub fn pressed(message: &Value, label: &str) -> (String, String) {
    let element = button(message, label);
    (
        element["action_id"].as_str().expect("action_id").to_owned(),
        element["value"].as_str().expect("value").to_owned(),
    )
}
