//! Slack Socket Mode end to end, against a local fake of Slack on loopback that serves
//! `apps.connections.open` (checking the app-level token) and the WebSocket it hands out.
//!
//! The fake speaks the protocol as Slack documents it and its official SDKs implement it:
//! - `POST apps.connections.open` with `Authorization: Bearer xapp-…` answers
//!   `{"ok": true, "url": "wss://…"}`, or `{"ok": false, "error": "invalid_auth"}`
//!   (<https://docs.slack.dev/reference/methods/apps.connections.open>).
//! - On the socket: `{"type": "hello", "num_connections": 1, "debug_info": {…},
//!   "connection_info": {"app_id": …}}` first; `{"type": "disconnect", "reason":
//!   "refresh_requested", …}` before a refresh (Slack, "Using Socket Mode":
//!   <https://docs.slack.dev/apis/events-api/using-socket-mode>; node-slack-sdk
//!   `packages/socket-mode/src/SocketModeClient.ts`).
//! - Envelopes `{"envelope_id", "type", "payload", "accepts_response_payload", "retry_attempt",
//!   "retry_reason"}` (python-slack-sdk `slack_sdk/socket_mode/request.py`), acknowledged with
//!   `{"envelope_id", "payload"?}` (`slack_sdk/socket_mode/response.py`). A slash command's
//!   payload carries the slash command's fields as JSON; an interactive one is the
//!   `block_actions` payload (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>).

use crate::common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Json;
use common::cli::Otpbot;
use common::slack::button;
use futures_util::{SinkExt, StreamExt};
use otpbot::domain::{Action, Outcome};
use otpbot::engine::Engine;
use otpbot::keys::SigningSecret;
use otpbot::slack::web::WebApi;
use otpbot::slack::SlackConfig;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use common::slack::FakeWebApi;
use common::tls::TestCa;
use common::{principal, Options, TestApp, ADMIN, BOT_TOKEN, SECRET, TEAM};

const APP_TOKEN: &str = "xapp-1-A0TEST-1-socketmodetesttoken";

/// A connection the fake accepted, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// The fake Slack: the Web API's `apps.connections.open` and the WebSocket server.
struct FakeSlack {
    api_url: String,
    opens: Arc<AtomicUsize>,
    sockets: Mutex<mpsc::Receiver<Socket>>,
}

async fn connections_open(headers: HeaderMap, opens: Arc<AtomicUsize>, ws: String) -> Json<Value> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if bearer != format!("Bearer {APP_TOKEN}") {
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    let n = opens.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"ok": true, "url": format!("{ws}/link/?ticket=t{n}&app_id=A0TEST")}))
}

impl FakeSlack {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With `tls`, the WebSocket is served as `wss://` with that server certificate.
    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
        let ws_addr = ws_listener.local_addr().expect("addr");
        let ws_base = match tls {
            Some(_) => format!("wss://{ws_addr}"),
            None => format!("ws://{ws_addr}"),
        };
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = ws_listener.accept().await {
                let stream: Box<dyn Io> = match &tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => Box::new(stream),
                        Err(_) => continue,
                    },
                    None => Box::new(tcp),
                };
                if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                    let _ = tx.send(socket).await;
                }
            }
        });
        let opens = Arc::new(AtomicUsize::new(0));
        let counter = opens.clone();
        let api = axum::Router::new().route(
            "/api/apps.connections.open",
            post(move |headers: HeaderMap| {
                connections_open(headers, counter.clone(), ws_base.clone())
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind api");
        let api_addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, api).await.expect("serve") });
        Self {
            api_url: format!("http://{api_addr}/api/"),
            opens,
            sockets: Mutex::new(rx),
        }
    }

    /// The next connection otpbot makes, greeted with `hello`.
    async fn accept(&self) -> Socket {
        let mut socket = tokio::time::timeout(Duration::from_secs(20), async {
            self.sockets.lock().await.recv().await
        })
        .await
        .expect("otpbot connected in time")
        .expect("a connection");
        send(
            &mut socket,
            json!({
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-test", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0TEST"}
            }),
        )
        .await;
        socket
    }

    fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string()))
        .await
        .expect("send");
}

/// The next JSON message from otpbot (pings skipped).
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("an answer in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("json");
        }
    }
}

/// A `slash_commands` envelope as Slack sends it.
fn slash(envelope_id: &str, team: &str, user: &str, text: &str, retry: u64) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "retry_attempt": retry,
        "retry_reason": if retry > 0 { "timeout" } else { "" },
        "payload": {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "example",
            "channel_id": "C0TEST",
            "channel_name": "general",
            "user_id": user,
            "user_name": "someone",
            "command": "/otp",
            "text": text,
            "api_app_id": "A0TEST",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.example.invalid/commands/T0/1/x",
            "trigger_id": "123.456.abc"
        }
    })
}

/// An `interactive` envelope carrying a `block_actions` click.
fn click(envelope_id: &str, user: &str, action_id: &str, value: &str) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": common::block_actions(TEAM, user, action_id, value)
    })
}

/// The reply's plain text: fallback text and every block's text.
fn text_of(payload: &Value) -> String {
    let mut out = vec![payload["text"].as_str().unwrap_or_default().to_owned()];
    for block in payload["blocks"].as_array().into_iter().flatten() {
        out.push(
            block["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    out.join("\n")
}

/// A test app, and otpbot's Socket Mode client connected to a fresh fake Slack; both post
/// through the fake Web API `web` with the bot token, and share their follow-ups.
struct Harness {
    app: TestApp,
    fake: FakeSlack,
    web: FakeWebApi,
    _stop: oneshot::Sender<()>,
}

async fn harness() -> Harness {
    let web = FakeWebApi::start().await;
    let app = TestApp::spawn_with(Options {
        workspaces: vec![TEAM.to_owned(), "E0ENTERPRISE".to_owned()],
        slack_api: Some(web.api_url()),
        ..Options::default()
    })
    .await;
    let fake = FakeSlack::start().await;
    let mut policy = otpbot::engine::Policy::default();
    policy.bootstrap_admins.insert(principal(ADMIN));
    // The same store, clock and audit key as the HTTP app: what one does the other sees.
    let engine = Arc::new(Engine::new(
        app.stores.clone(),
        Arc::new(app.clock.clone()),
        app.audit_key.clone(),
        policy,
    ));
    let bot = WebApi::new(&web.api_url(), BOT_TOKEN.into()).expect("web api");
    let slack = Arc::new(SlackConfig {
        signing_secret: SigningSecret::new(SECRET.into()),
        allowed_workspaces: [TEAM.to_owned(), "E0ENTERPRISE".to_owned()]
            .into_iter()
            .collect(),
        web_api: Some(Arc::new(bot)),
    });
    let opener = WebApi::new(&fake.api_url, APP_TOKEN.into()).expect("web api");
    let (stop, stopped) = oneshot::channel::<()>();
    let background = app.background.clone();
    tokio::spawn(otpbot::slack::socket::run(
        engine,
        slack,
        background,
        opener,
        async {
            let _ = stopped.await;
        },
    ));
    Harness {
        app,
        fake,
        web,
        _stop: stop,
    }
}

async fn issued_codes(app: &TestApp) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| e.action == Action::Code && e.outcome == Outcome::Issued)
        .count()
}

#[tokio::test]
async fn a_slash_command_is_acked_with_its_reply_and_a_redelivery_is_not_acted_on() {
    let h = harness().await;
    let granted = h.app.slash(ADMIN, "grant <@UALICE> github for 1h").await;
    assert!(granted.ephemeral().contains("Granted"), "{}", granted.raw);
    let mut socket = h.fake.accept().await;

    let envelope = slash("5c1f3d7e-0001", TEAM, "UALICE", "github", 0);
    send(&mut socket, envelope).await;
    let ack = receive(&mut socket).await;
    assert_eq!(ack["envelope_id"], "5c1f3d7e-0001", "{ack}");
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    let code = h.app.expected_code(h.app.now());
    assert!(text_of(&ack["payload"]).contains(&code), "{ack}");
    assert_eq!(issued_codes(&h.app).await, 1);
    let event = h.app.last_event().await;
    assert_eq!(event.actor, principal("UALICE"));
    assert_eq!(event.channel.as_deref(), Some("C0TEST"));

    // Slack delivers the same envelope again (it saw no ack in time): acknowledged, not acted on.
    send(
        &mut socket,
        slash("5c1f3d7e-0001", TEAM, "UALICE", "github", 1),
    )
    .await;
    let again = receive(&mut socket).await;
    assert_eq!(again, json!({"envelope_id": "5c1f3d7e-0001"}));
    assert_eq!(issued_codes(&h.app).await, 1, "no second code");
    assert_eq!(h.fake.opens(), 1);
}

#[tokio::test]
async fn a_workspace_not_served_is_refused_and_audited() {
    let h = harness().await;
    let mut socket = h.fake.accept().await;
    send(
        &mut socket,
        slash("env-foreign-1", "T0OTHER", "UALICE", "github", 0),
    )
    .await;
    let ack = receive(&mut socket).await;
    assert_eq!(ack["envelope_id"], "env-foreign-1");
    assert!(text_of(&ack["payload"]).contains("not allowed"), "{ack}");
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::BadWorkspace);
    assert_eq!(issued_codes(&h.app).await, 0);
}

#[tokio::test]
async fn a_disconnect_makes_it_reconnect_with_a_fresh_url() {
    let h = harness().await;
    let mut first = h.fake.accept().await;
    send(
        &mut first,
        json!({"type": "disconnect", "reason": "refresh_requested",
               "debug_info": {"host": "applink-test"}}),
    )
    .await;
    let mut second = h.fake.accept().await;
    assert_eq!(h.fake.opens(), 2, "a fresh URL for the new connection");
    send(
        &mut second,
        slash("env-after-refresh", TEAM, "UALICE", "help", 0),
    )
    .await;
    let ack = receive(&mut second).await;
    assert_eq!(ack["envelope_id"], "env-after-refresh");
    assert!(!text_of(&ack["payload"]).is_empty(), "{ack}");
}

#[tokio::test]
async fn a_closed_socket_is_reconnected_too() {
    let h = harness().await;
    let mut first = h.fake.accept().await;
    first.close(None).await.expect("close");
    let mut second = h.fake.accept().await;
    assert_eq!(h.fake.opens(), 2);
    send(
        &mut second,
        slash("env-after-close", TEAM, ADMIN, "list", 0),
    )
    .await;
    assert_eq!(receive(&mut second).await["envelope_id"], "env-after-close");
}

/// An `interactive` envelope: `user` of `team` clicks `element` (a button as otpbot wrote it),
/// with a response URL of the fake Web API.
fn press(h: &Harness, envelope_id: &str, team: &str, user: &str, element: &Value) -> Value {
    let mut envelope = click(
        envelope_id,
        user,
        element["action_id"].as_str().expect("action_id"),
        element["value"].as_str().expect("value"),
    );
    let payload = &mut envelope["payload"];
    payload["response_url"] = json!(h.web.hook_url(&format!("actions/{envelope_id}")));
    payload["team"]["id"] = json!(team);
    payload["user"]["team_id"] = json!(team);
    // The click comes from the message it was on: the last one posted.
    if let Some((channel, ts)) = h.web.last_post() {
        payload["container"]["channel_id"] = json!(channel);
        payload["container"]["message_ts"] = json!(ts);
        payload["channel"]["id"] = json!(channel);
    }
    envelope
}

/// Alice asks for github for 2h over HTTP; the approval message the admin got directly.
async fn approval_message(h: &Harness) -> Value {
    h.app
        .slash("UALICE", "request github for 2h")
        .await
        .ephemeral();
    h.app.settled().await;
    h.web
        .bodies("chat.postMessage")
        .pop()
        .expect("an approval message")
}

#[tokio::test]
async fn an_approve_button_over_the_socket_grants_once() {
    let h = harness().await;
    let message = approval_message(&h).await;
    let approve = button(&message, "Approve");
    let mut socket = h.fake.accept().await;

    let envelope = press(&h, "env-click-1", TEAM, ADMIN, approve);
    send(&mut socket, envelope.clone()).await;
    let ack = receive(&mut socket).await;
    // Block actions take no response payload: the bare acknowledgement.
    assert_eq!(ack, json!({"envelope_id": "env-click-1"}));
    let grant = h
        .app
        .stores
        .access
        .grant(&principal("UALICE"), &"github".parse().expect("tool"))
        .await
        .expect("grant");
    assert!(grant.is_some(), "the click granted access");
    // A redelivered click, and a forged one for a request id never issued, change nothing.
    send(&mut socket, envelope).await;
    assert_eq!(receive(&mut socket).await["envelope_id"], "env-click-1");
    let forged = json!({
        "action_id": approve["action_id"],
        "value": r#"{"do":"approve","request":"0123456789abcdef"}"#,
    });
    send(&mut socket, press(&h, "env-click-2", TEAM, ADMIN, &forged)).await;
    assert_eq!(receive(&mut socket).await["envelope_id"], "env-click-2");
    let approvals: Vec<_> = h
        .app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Approve)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(approvals, [Outcome::Invalid, Outcome::Ok], "newest first");
}

/// Over Socket Mode too, Approve, Approve for 1h and Deny update the message they were
/// clicked on, answer the clicker privately and tell the requester; Get code and Request
/// access answer the clicker alike.
#[tokio::test]
async fn every_button_over_the_socket_updates_the_message_and_tells_the_requester() {
    let h = harness().await;
    let mut socket = h.fake.accept().await;
    for (n, (label, verb)) in [
        ("Approve", "Approved"),
        ("Approve for 1h", "Approved"),
        ("Deny", "Denied"),
    ]
    .into_iter()
    .enumerate()
    {
        h.app.clock.advance(60);
        let message = approval_message(&h).await;
        h.web.clear();
        let id = format!("env-decide-{n}");
        send(
            &mut socket,
            press(&h, &id, TEAM, ADMIN, button(&message, label)),
        )
        .await;
        assert_eq!(receive(&mut socket).await["envelope_id"], id.as_str());
        h.app.settled().await;
        assert_eq!(
            h.web.names(),
            [
                format!("hook:actions/{id}"),
                "chat.update".into(),
                "conversations.open".into(),
                "chat.postMessage".into()
            ],
            "{label}"
        );
        let update = &h.web.bodies("chat.update")[0];
        assert!(
            update.to_string().contains(&format!("{verb} by <@UADMIN>")),
            "{label}"
        );
        assert_eq!(
            update["blocks"].as_array().expect("blocks").len(),
            1,
            "{label}"
        );
        let dm = &h.web.bodies("chat.postMessage")[0];
        assert_eq!(dm["channel"], "D0UALICE", "{label}");
        if verb == "Denied" {
            continue;
        }
        // Alice's Get code, over the socket: the code reaches her through the response URL.
        h.web.clear();
        let code = format!("env-code-{n}");
        send(
            &mut socket,
            press(&h, &code, TEAM, "UALICE", button(dm, "Get code")),
        )
        .await;
        assert_eq!(receive(&mut socket).await["envelope_id"], code.as_str());
        h.app.settled().await;
        let answers = h.web.bodies(&format!("hook:actions/{code}"));
        assert_eq!(answers.len(), 1, "{label}: {:?}", h.web.calls());
        let expected = h.app.expected_code(h.app.now());
        assert!(
            answers[0]["blocks"].to_string().contains(&expected),
            "{label}"
        );
        // `done` frees the slot for the next round's grant.
        h.app.slash("UALICE", "done github").await.ephemeral();
    }
    // Bob has no access: the refusal offers Request access, which asks the approvers.
    send(&mut socket, slash("env-bob-1", TEAM, "UBOB", "github", 0)).await;
    let refused = receive(&mut socket).await;
    h.web.clear();
    let ask = button(&refused["payload"], "Request access");
    send(&mut socket, press(&h, "env-bob-2", TEAM, "UBOB", ask)).await;
    assert_eq!(receive(&mut socket).await["envelope_id"], "env-bob-2");
    h.app.settled().await;
    let answer = h.web.bodies("hook:actions/env-bob-2");
    assert!(
        answer[0].to_string().contains("Asked the approvers of"),
        "{answer:?}"
    );
    let asked = h.web.bodies("chat.postMessage");
    assert!(
        asked[0]["text"].to_string().contains("<@UBOB> asks for"),
        "{asked:?}"
    );
}

/// An Enterprise Grid user signed in to two workspaces of one org is one person: asking in
/// one and approving over the socket in the other is refused and audited.
#[tokio::test]
async fn a_grid_user_cannot_approve_own_request_over_the_socket() {
    let h = harness().await;
    let mut socket = h.fake.accept().await;
    h.app
        .slash(ADMIN, "role add slack:T0TWO:W0SELF approver github")
        .await
        .ephemeral();
    let mut ask = slash("env-grid-1", "T0ONE", "W0SELF", "request github", 0);
    ask["payload"]["enterprise_id"] = json!("E0ENTERPRISE");
    send(&mut socket, ask).await;
    let asked = receive(&mut socket).await;
    assert!(text_of(&asked["payload"]).contains("(request `"), "{asked}");
    h.app.settled().await;
    let message = h
        .web
        .bodies("chat.postMessage")
        .pop()
        .expect("approval message");
    let mut envelope = press(
        &h,
        "env-grid-2",
        "T0TWO",
        "W0SELF",
        button(&message, "Approve"),
    );
    envelope["payload"]["enterprise"] = json!({"id": "E0ENTERPRISE", "name": "Example Org"});
    send(&mut socket, envelope).await;
    assert_eq!(receive(&mut socket).await["envelope_id"], "env-grid-2");
    h.app.settled().await;
    let answer = h.web.bodies("hook:actions/env-grid-2");
    assert!(
        answer[0]
            .to_string()
            .contains("Nobody approves their own request"),
        "{answer:?}"
    );
    let grid = otpbot::domain::Principal::parse("slack:T0ONE:W0SELF").expect("principal");
    assert!(h
        .app
        .stores
        .access
        .grant(&grid, &"github".parse().expect("tool"))
        .await
        .expect("grant")
        .is_none());
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Approve, Outcome::Forbidden)
    );
    assert!(event.detail.unwrap_or_default().contains("self-approval"));
}

#[tokio::test]
async fn a_wrong_app_token_never_connects() {
    let fake = FakeSlack::start().await;
    let app = TestApp::spawn().await;
    let engine = Arc::new(Engine::new(
        app.stores.clone(),
        Arc::new(app.clock.clone()),
        app.audit_key.clone(),
        otpbot::engine::Policy::default(),
    ));
    let slack = Arc::new(SlackConfig {
        signing_secret: SigningSecret::new(SECRET.into()),
        allowed_workspaces: [TEAM.to_owned()].into_iter().collect(),
        web_api: None,
    });
    let opener = WebApi::new(&fake.api_url, "xapp-1-wrong".into()).expect("web api");
    let run = otpbot::slack::socket::run(
        engine,
        slack,
        otpbot::front::Background::default(),
        opener,
        tokio::time::sleep(Duration::from_secs(2)),
    );
    run.await;
    assert_eq!(fake.opens(), 0, "no URL for a wrong token");
    assert!(
        fake.sockets.lock().await.try_recv().is_err(),
        "no connection"
    );
}

/// Kills the server when dropped, so a failing test leaves nothing behind.
struct Server(Option<Child>);

impl Server {
    /// Stops the server and returns what it wrote.
    fn stop(mut self) -> std::process::Output {
        let mut child = self.0.take().expect("running");
        let _ = child.kill();
        child.wait_with_output().expect("output")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `otpbot` on the data dir `dir` in the Socket Mode test's workspace, its output captured.
fn otpbot(dir: &std::path::Path) -> Command {
    let mut cmd = Otpbot::new()
        .data_dir(dir)
        .key_dir(common::key_dir())
        .env("OTPBOT_SLACK_TEAM_IDS", "T0SOCK")
        .command();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[tokio::test]
async fn the_binary_serves_slack_over_socket_mode_without_a_signing_secret() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = common::base32(common::SEED);
    let mut add = otpbot(dir.path())
        .args(["tool", "add", "github"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{seed}\n").as_bytes())
        .expect("seed");
    assert!(add.wait_with_output().expect("tool add").status.success());
    let grant = otpbot(dir.path())
        .args(["grant", "slack:T0SOCK:UALICE", "github", "--for", "1h"])
        .output()
        .expect("grant");
    assert!(grant.status.success(), "{grant:?}");

    // Slack's socket URLs are wss://: the fake serves TLS with a certificate from a test CA,
    // which otpbot trusts through SSL_CERT_FILE like any platform root.
    let ca = TestCa::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).expect("ca file");
    let fake = FakeSlack::start_with(Some(ca.acceptor)).await;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let token_file = dir.path().join("app-token");
    std::fs::write(&token_file, APP_TOKEN).expect("token file");
    let server = Server(Some(
        otpbot(dir.path())
            .args([
                "serve",
                "--slack-socket-mode",
                "--listen",
                &listen.to_string(),
            ])
            .env("OTPBOT_SLACK_APP_TOKEN_FILE", &token_file)
            .env("SSL_CERT_FILE", &ca_file)
            .env("OTPBOT_SLACK_API_URL", &fake.api_url)
            .env("OTPBOT_LOG", "otpbot=debug")
            .spawn()
            .expect("serve"),
    ));
    let mut socket = fake.accept().await;
    send(
        &mut socket,
        slash("env-binary-1", "T0SOCK", "UALICE", "github", 0),
    )
    .await;
    let ack = receive(&mut socket).await;
    assert_eq!(ack["envelope_id"], "env-binary-1", "{ack}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let text = text_of(&ack["payload"]);
    let codes: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| common::rfc6238::totp_sha1(common::SEED, *t, 30, 6))
        .collect();
    assert!(codes.iter().any(|c| text.contains(c)), "{ack}");
    // HTTP still serves /healthz; without a signing secret the Slack endpoints are off.
    let http = otpbot::front::client(Duration::from_secs(10)).expect("client");
    let health = http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let command = http
        .post(format!("http://{listen}/slack/commands"))
        .body("team_id=T0SOCK&user_id=UALICE&text=github")
        .send()
        .await
        .expect("post");
    assert_eq!(command.status(), 404);
    let output = server.stop();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("connected to slack in socket mode"), "{log}");
    for secret in [APP_TOKEN, "ticket=", &common::code_in(&text)] {
        assert!(!log.contains(secret), "{secret} logged: {log}");
    }

    let audit = otpbot(dir.path())
        .args([
            "audit",
            "--format",
            "jsonl",
            "--user",
            "slack:T0SOCK:UALICE",
        ])
        .output()
        .expect("audit");
    let line: Value =
        serde_json::from_slice(audit.stdout.split(|b| *b == b'\n').next().expect("a line"))
            .expect("json line");
    assert_eq!(line["actor"], "slack:T0SOCK:UALICE", "{line}");
    assert_eq!(line["action"], "code", "{line}");
    assert_eq!(line["outcome"], "issued", "{line}");
}

/// The Socket Mode manifest is the HTTP one with `settings.socket_mode_enabled: true` and no
/// request URLs, since requests arrive over the socket instead (Slack app manifest reference,
/// `settings.socket_mode_enabled`, `features.slash_commands[].url`,
/// `settings.interactivity.request_url`: <https://docs.slack.dev/reference/app-manifest>, typed
/// as `ManifestSettings.socket_mode_enabled` in the official @slack/web-api package; "Using
/// Socket Mode": <https://docs.slack.dev/apis/events-api/using-socket-mode>).
#[test]
fn the_socket_mode_manifest_differs_from_the_http_one_only_where_socket_mode_needs() {
    let read = |path: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect(path)
    };
    let http = read("manifest/slack/manifest.json");
    let mut socket = read("manifest/slack/manifest-socket-mode.json");
    assert_eq!(socket["settings"]["socket_mode_enabled"], true);
    assert_eq!(socket["settings"]["interactivity"]["is_enabled"], true);
    assert!(socket["features"]["slash_commands"][0].get("url").is_none());
    assert!(socket["settings"]["interactivity"]
        .get("request_url")
        .is_none());
    // Put the HTTP parts back: everything else (command, scopes) is the same.
    socket["settings"]["socket_mode_enabled"] = false.into();
    socket["features"]["slash_commands"][0]["url"] =
        http["features"]["slash_commands"][0]["url"].clone();
    socket["settings"]["interactivity"]["request_url"] =
        http["settings"]["interactivity"]["request_url"].clone();
    assert_eq!(socket, http);
}

#[test]
fn socket_mode_settings_name_their_variable_and_are_not_unknown() {
    use otpbot::config::Settings;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;
    let vars = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app-token");
    std::fs::write(&file, format!("{APP_TOKEN}\n")).expect("write");
    let file = file.to_str().expect("utf-8 path");
    let on = vars(&[
        ("OTPBOT_SLACK_SOCKET_MODE", "true"),
        ("OTPBOT_SLACK_APP_TOKEN_FILE", file),
    ]);
    let settings = Settings::from_vars(on).expect("valid");
    assert!(settings.slack_socket_mode);
    assert_eq!(
        settings.slack_app_token.as_ref().map(|t| t.expose_secret()),
        Some(APP_TOKEN)
    );
    assert!(
        !format!("{settings:?}").contains(APP_TOKEN),
        "the token is redacted"
    );
    assert!(
        settings.unknown.is_empty(),
        "no unknown-variable warning for the Socket Mode variables"
    );
    let off = Settings::from_vars(vars(&[])).expect("defaults");
    assert!(!off.slack_socket_mode && off.slack_app_token.is_none());
    for (var, value) in [
        ("OTPBOT_SLACK_SOCKET_MODE", "perhaps"),
        ("OTPBOT_SLACK_APP_TOKEN_FILE", "/nonexistent/app-token"),
    ] {
        let err = Settings::from_vars(vars(&[(var, value)]))
            .expect_err(var)
            .to_string();
        assert!(err.starts_with(var), "{var}: {err}");
    }
}

#[test]
fn serve_refuses_socket_mode_without_an_app_token_and_names_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = otpbot(dir.path())
        .args(["serve", "--slack-socket-mode", "--listen", "127.0.0.1:0"])
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("OTPBOT_SLACK_APP_TOKEN"), "{stderr}");
    let wrong = otpbot(dir.path())
        .args(["serve", "--slack-socket-mode", "--listen", "127.0.0.1:0"])
        .env("OTPBOT_SLACK_APP_TOKEN", "xoxb-a-bot-token-by-mistake")
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        stderr.contains("xapp-") && !stderr.contains("by-mistake"),
        "{stderr}"
    );
    // Trusting no certificate authority, it could never reach Slack: it says so and stops.
    let untrusting = otpbot(dir.path())
        .args(["serve", "--slack-socket-mode", "--listen", "127.0.0.1:0"])
        .env("OTPBOT_SLACK_APP_TOKEN", "xapp-1-A0-1-SECRETTOKENVALUE")
        .env("SSL_CERT_FILE", dir.path().join("missing.pem"))
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&untrusting.stderr);
    assert!(!untrusting.status.success());
    assert!(
        stderr.contains("no trusted CA certificates")
            && stderr.contains("Slack (Socket Mode)")
            && stderr.contains("missing.pem")
            && !stderr.contains("SECRETTOKENVALUE"),
        "{stderr}"
    );
}

#[test]
fn socket_mode_stops_with_the_error_when_its_http_listener_cannot_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut child = otpbot(dir.path())
        .args(["serve", "--slack-socket-mode", "--listen", &addr])
        .env("OTPBOT_SLACK_APP_TOKEN", APP_TOKEN)
        // Nothing listens there: the socket keeps retrying, on loopback only.
        .env("OTPBOT_SLACK_API_URL", "http://127.0.0.1:9/api/")
        .spawn()
        .expect("serve");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("still running with its HTTP listener unable to start");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read");
    assert!(!status.success());
    assert!(stderr.contains(&addr), "{stderr}");
    drop(taken);
}
