//! Logging can never fail a request: `otpbot demo` (the same server as `otpbot serve`) keeps
//! answering, and issuing codes, when its stderr is closed, is a pipe nobody reads (full after
//! 64 KiB), or is a pipe whose reader has gone (every write fails with `EPIPE`). It still shuts
//! down cleanly on SIGTERM.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::BIN;

/// Requests sent per case: each logs at least one line, together far more than a pipe holds.
const REQUESTS: usize = 1_500;

/// Where the server's stderr goes.
#[derive(Clone, Copy, Debug)]
enum Stderr {
    /// File descriptor 2 closed before the server starts.
    Closed,
    /// A pipe that is never read: writes block once it is full.
    Unread,
    /// A pipe whose read end is closed: writes fail.
    Broken,
}

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
    _stderr: Option<std::process::ChildStderr>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(stderr: Stderr) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = match stderr {
        // `exec … 2>&-` starts otpbot with descriptor 2 closed.
        Stderr::Closed => {
            let mut sh = Command::new("sh");
            sh.args(["-c", "exec \"$0\" \"$@\" 2>&-", BIN]);
            sh
        }
        _ => Command::new(BIN),
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_LOG", "debug")
        .env("OTPBOT_KEY_DIR", common::key_dir())
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match stderr {
            Stderr::Closed => Stdio::null(),
            Stderr::Unread | Stderr::Broken => Stdio::piped(),
        });
    let mut child = cmd.spawn().expect("spawn otpbot demo");
    let kept = child.stderr.take();
    let kept = match stderr {
        Stderr::Broken => {
            drop(kept);
            None
        }
        _ => kept,
    };
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        assert!(Instant::now() < deadline, "{stderr:?}: demo did not start");
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{stderr:?}: demo exited early"))
            .expect("read stdout");
        if let Some(rest) = line.split("serving on ").nth(1) {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep draining stdout so the banner never blocks anything.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url,
        _dir: dir,
        _stderr: kept,
    }
}

async fn slash(
    client: &reqwest::Client,
    url: &str,
    user: &str,
    text: &str,
    signed: bool,
) -> (u16, String) {
    let body = common::slash_body("T0DEMO", user, text);
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let signature = if signed {
        common::signature(ts, body.as_bytes())
    } else {
        "v0=00".to_owned()
    };
    let response = client
        .post(format!("{url}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .expect("an answer: logging must not drop the request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn serves_despite(stderr: Stderr) {
    let mut server = start(stderr);
    let client = otpbot::front::client(Duration::from_secs(10)).expect("HTTP client");
    for i in 0..REQUESTS {
        let (status, _) = slash(&client, &server.url, "U123", "github", false).await;
        assert_eq!(status, 401, "{stderr:?}: unsigned request {i}");
    }
    let (status, body) = slash(&client, &server.url, "U123", "github", true).await;
    assert_eq!(status, 200, "{stderr:?}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let block = json["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        block.contains("valid for"),
        "{stderr:?}: the code is delivered: {body}"
    );

    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{stderr:?}: no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{stderr:?}: exit after SIGTERM: {status}");
}

#[tokio::test]
async fn requests_are_answered_with_stderr_closed() {
    serves_despite(Stderr::Closed).await;
}

#[tokio::test]
async fn requests_are_answered_with_stderr_a_pipe_nobody_reads() {
    serves_despite(Stderr::Unread).await;
}

#[tokio::test]
async fn requests_are_answered_with_stderr_a_broken_pipe() {
    serves_despite(Stderr::Broken).await;
}
