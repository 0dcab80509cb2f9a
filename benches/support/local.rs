//! The local server as deployed, for the benchmarks: a data directory set up with a tool and
//! grants, then the real `otpbot serve` binary on it (its own process, its own front door,
//! logging as configured), and a client that signs slash commands as Slack does.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otpbot::domain::{Clock, SystemClock};
use otpbot::keys::SigningSecret;
use otpbot::slack::signature::sign;

/// The signing secret the server is given.
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// The allowed workspace.
pub const TEAM: &str = "T0BENCH";

/// The user id of bench user `i`.
pub fn user(i: usize) -> String {
    format!("U{i:05}")
}

/// The binary to run: `OTPBOT_BIN`, else the one cargo built for the bench.
pub fn binary() -> PathBuf {
    std::env::var_os("OTPBOT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_otpbot")))
}

/// A fresh data directory on disk (under the target directory, not tmpfs), with the store's
/// key directory beside it, apart from the data as `otpbot` requires; both removed on drop.
pub struct DataDir(tempfile::TempDir);

impl DataDir {
    /// The data directory (`OTPBOT_DATA_DIR`).
    pub fn path(&self) -> std::path::PathBuf {
        self.0.path().join("data")
    }
}

/// A fresh [`DataDir`].
pub fn data_dir() -> DataDir {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&base).expect("target dir");
    let root = tempfile::tempdir_in(&base).expect("data dir");
    for sub in ["data", "keys"] {
        std::fs::create_dir(root.path().join(sub)).expect("data and key dirs");
    }
    DataDir(root)
}

/// The key directory (`OTPBOT_KEY_DIR`) of the data directory `dir` made by [`data_dir`].
fn key_dir(dir: &Path) -> std::path::PathBuf {
    dir.with_file_name("keys")
}

/// Sets `dir` up as an operator would, with the binary under test (so a data directory made
/// by one build is never opened by another): the `github` tool and a week's grant for each of
/// `users` users, each change recorded in the chained audit log.
pub fn seed(dir: &Path, users: usize) {
    let run = |args: &[String], stdin: Option<&str>| {
        let mut child = operator(dir)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("run otpbot");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            pipe.write_all(text.as_bytes()).expect("write the seed");
        }
        let out = child.wait_with_output().expect("otpbot ran");
        assert!(
            out.status.success(),
            "otpbot {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    run(
        &words(&[
            "tool",
            "add",
            "github",
            "--display-name",
            "GitHub",
            "--max-grant",
            "1w",
        ]),
        Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n"),
    );
    let lanes = 4;
    std::thread::scope(|scope| {
        for lane in 0..lanes {
            let run = &run;
            scope.spawn(move || {
                for i in (lane..users).step_by(lanes) {
                    let principal = format!("slack:{TEAM}:{}", user(i));
                    let args = [
                        "grant".to_owned(),
                        principal,
                        "github".to_owned(),
                        "--for".to_owned(),
                        "1w".to_owned(),
                    ];
                    run(&args, None);
                }
            });
        }
    });
}

/// The binary as the operator runs it on `dir`.
fn operator(dir: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPBOT_BACKEND", "local")
        .env("OTPBOT_DATA_DIR", dir)
        .env("OTPBOT_KEY_DIR", key_dir(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A running `otpbot serve`; stopped (SIGTERM, then waited for) when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Server {
    /// Starts `otpbot serve` on `dir` with `env` added, run through `wrapper` (e.g. valgrind)
    /// when given, and waits until `/healthz` answers.
    pub async fn start(dir: &Path, env: &[(&str, &str)], wrapper: &[String]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let bin = binary();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OTPBOT_BACKEND", "local")
            .env("OTPBOT_DATA_DIR", dir)
            .env("OTPBOT_KEY_DIR", key_dir(dir))
            .env("OTPBOT_LISTEN", addr.to_string())
            .env("OTPBOT_SLACK_SIGNING_SECRET", SECRET)
            .env("OTPBOT_SLACK_TEAM_IDS", TEAM)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("start otpbot serve");
        let server = Self { addr, child };
        let client = otpbot::front::client(Duration::from_secs(5)).expect("client");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let up = client
                .get(format!("http://{addr}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return server;
            }
            assert!(Instant::now() < deadline, "otpbot serve did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends signed `/otp github` slash commands to a server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    secret: SigningSecret,
}

impl Client {
    /// A client of the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            http: otpbot::front::client(Duration::from_secs(30)).expect("HTTP client"),
            url: format!("http://{addr}"),
            secret: SigningSecret::new(SECRET.into()),
        }
    }

    /// `/otp github` as `user`; the time from sending to the whole reply. Panics unless a code
    /// was issued.
    pub async fn code(&self, user: &str) -> Duration {
        let trigger = format!("{}.{}", rand::random::<u64>(), rand::random::<u64>());
        let body = serde_urlencoded::to_string([
            ("team_id", TEAM),
            ("user_id", user),
            ("channel_id", "C1"),
            ("command", "/otp"),
            ("text", "github"),
            ("trigger_id", trigger.as_str()),
        ])
        .expect("form");
        let ts = SystemClock.now().unix();
        let signature = sign(&self.secret, ts, body.as_bytes());
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/slack/commands", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        let text = response.text().await.expect("reply");
        let elapsed = started.elapsed();
        assert!(
            status.is_success() && text.contains("valid for"),
            "{status}: {text}"
        );
        elapsed
    }

    /// `GET /healthz`; the time it took.
    pub async fn healthz(&self) -> Duration {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .expect("send");
        assert!(response.status().is_success());
        response.bytes().await.expect("body");
        started.elapsed()
    }
}
