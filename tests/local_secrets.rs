//! `otpbot secret set` on the local store: the secret is encrypted under the master key as seeds
//! are (never in the database in clear), audited in the same transaction, and `otpbot serve`
//! reads it from there; values that cannot be right are refused and change nothing.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};

use common::cli::{self, Otpbot};

const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn secret_set(dir: &Path, name: &str, value: &str) -> Output {
    Otpbot::in_dir(dir)
        .args(["secret", "set", name])
        .input(value)
}

fn audit_rows(dir: &Path) -> Vec<String> {
    let out = Otpbot::in_dir(dir)
        .args(["audit", "--format", "csv"])
        .output();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("secret_set"))
        .map(str::to_owned)
        .collect()
}

/// A running `otpbot serve` and its address; killed when dropped.
struct Served(Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, slack_api: &str) -> Served {
    let mut child = Otpbot::in_dir(dir)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
        .env("OTPBOT_SLACK_API_URL", slack_api)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .expect("read");
        if let Some((_, addr)) = line.split_once("otpbot listening addr=") {
            break addr.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Served(child, addr)
}

/// A Slack Web API that records the `Authorization` header of each call and answers `ok`
/// ("chat.postMessage", <https://docs.slack.dev/reference/methods/chat.postMessage>: the bot
/// token travels as `Authorization: Bearer xoxb-…`).
async fn fake_web_api() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let tx = tx.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(auth);
                axum::Json(serde_json::json!({"ok": true, "channel": "C0NOTE", "ts": "1.2"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/api/"), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_set_on_the_local_store_is_encrypted_audited_and_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let said = cli::said(&secret_set(dir.path(), "slack-signing-secret", SIGNING));
    assert!(
        said.contains("Stored the Slack signing secret in"),
        "{said}"
    );
    let rows = audit_rows(dir.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("stored secret slack-signing-secret in the local store"),
        "{rows:?}"
    );
    for file in ["otpbot.db", "otpbot.db-wal"] {
        let bytes = std::fs::read(dir.path().join("data").join(file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(SIGNING.len())
                .any(|w| w == SIGNING.as_bytes()),
            "the secret in clear in {file}"
        );
    }

    let token = "xoxb-stored-bot-token";
    assert!(secret_set(dir.path(), "slack-bot-token", token)
        .status
        .success());
    let add = Otpbot::in_dir(dir.path())
        .args(["tool", "add", "github", "--notify-channel", "C0NOTE"])
        .input("JBSWY3DPEHPK3PXP");
    assert!(add.status.success());
    let granted = Otpbot::in_dir(dir.path())
        .args(["grant", "slack:T0DEMO:U123", "github"])
        .output();
    assert!(granted.status.success(), "{}", cli::said(&granted));

    // `serve` has neither secret in its environment: it reads the stored ones.
    let (api, mut calls) = fake_web_api().await;
    let served = serve(dir.path(), &api);
    let slash = |secret: &str| {
        Otpbot::in_dir(dir.path())
            .env("OTPBOT_SLACK_SIGNING_SECRET", secret)
            .args(["slash", "--url", &format!("http://{}", served.1)])
            .args(["--as", "U123", "help"])
            .output()
    };
    let signed = slash(SIGNING);
    assert!(signed.status.success(), "{}", cli::said(&signed));
    let code = Otpbot::in_dir(dir.path())
        .env("OTPBOT_SLACK_SIGNING_SECRET", SIGNING)
        .args(["slash", "--url", &format!("http://{}", served.1)])
        .args(["--as", "U123", "github"])
        .output();
    assert!(
        cli::said(&code).contains("valid for"),
        "{}",
        cli::said(&code)
    );
    let auth = tokio::time::timeout(std::time::Duration::from_secs(20), calls.recv())
        .await
        .expect("the issuance notice was posted")
        .expect("a call");
    assert_eq!(auth, format!("Bearer {token}"), "with the stored bot token");
    let forged = slash("0000000000000000000000000000beef");
    let said = cli::said(&forged);
    assert!(!forged.status.success(), "{said}");
    assert!(
        said.contains("401") && said.contains("signed with another secret than the server's"),
        "a 401 says what to do: {said}"
    );
}

#[test]
fn secrets_that_cannot_be_right_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let said = cli::said(&secret_set(
        dir.path(),
        "slack-bot-token",
        "xapp-1-not-a-bot-token",
    ));
    assert!(
        said.contains("start with xoxb-") && !said.contains("xapp-1"),
        "{said}"
    );
    let said = cli::said(&secret_set(dir.path(), "audit-key", &"ab".repeat(32)));
    assert!(said.contains("audit.key in the key directory"), "{said}");
    let said = cli::said(&secret_set(dir.path(), "teams-client-secret", "\n"));
    assert!(said.contains("empty value"), "{said}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing was created for a refused value"
    );
    let stored = secret_set(dir.path(), "slack-bot-token", "xoxb-1-2-abc");
    assert!(stored.status.success(), "{}", cli::said(&stored));
    let replaced = secret_set(dir.path(), "slack-bot-token", "xoxb-1-2-def");
    assert!(replaced.status.success(), "{}", cli::said(&replaced));
    assert_eq!(audit_rows(dir.path()).len(), 2, "each write audited");
}
