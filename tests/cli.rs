//! The `otpbot` binary as an operator and a newcomer use it: enrol a seed from stdin, grant,
//! export the audit log, verify a code, and the one-command demo with its printed `slash` line.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_otpbot");
const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn otpbot(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", "ops")
        .env("OTPBOT_DATA_DIR", dir)
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run otpbot")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn add_tool(dir: &Path, name: &str, seed: &str) -> Output {
    let mut child = otpbot(dir)
        .args([
            "tool",
            "add",
            name,
            "--display-name",
            "GitHub org",
            "--default-grant",
            "2h",
            "--max-grant",
            "1d",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(seed.as_bytes())
        .expect("write seed");
    child.wait_with_output().expect("wait")
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn operator_enrols_grants_and_exports_the_audit_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(add_tool(
        dir.path(),
        "github",
        &format!("otpauth://totp/GitHub:org?secret={SEED_B32}&issuer=GitHub\n"),
    ));
    assert!(
        out.contains("Enrolled `github` (GitHub org); default grant 2h, max 1d"),
        "{out}"
    );
    let list = ok(run(otpbot(dir.path()).args(["tool", "list"])));
    assert!(
        list.contains("github") && list.contains("GitHub org") && !list.contains(SEED_B32),
        "{list}"
    );

    let bad = add_tool(dir.path(), "gitlab", "SECRETVALUE1!");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("rejected") && !stderr.contains("SECRETVALUE"),
        "{stderr}"
    );
    let bad = run(otpbot(dir.path()).args(["tool", "add", "../etc"]));
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("not a tool name")
    );

    let out = ok(run(otpbot(dir.path()).args([
        "grant",
        "slack:T0DEMO:UALICE",
        "github",
        "--reason",
        "release",
    ])));
    assert!(out.contains("for 2h"), "{out}");
    let over =
        run(otpbot(dir.path()).args(["grant", "slack:T0DEMO:UALICE", "github", "--for", "2w"]));
    assert!(!over.status.success() && String::from_utf8_lossy(&over.stderr).contains("at most 1d"));
    ok(run(otpbot(dir.path()).args([
        "role",
        "add",
        "slack:T0DEMO:UAUD",
        "auditor",
    ])));
    ok(run(otpbot(dir.path()).args([
        "revoke",
        "slack:T0DEMO:UALICE",
        "github",
    ])));

    let csv = ok(run(otpbot(dir.path()).args(["audit", "--format", "csv"])));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[0], "time");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let actions: Vec<&str> = rows.iter().map(|r| &r[4]).collect();
    assert_eq!(
        actions,
        ["audit", "revoke", "role_add", "grant", "grant", "tool_add"],
        "newest first, the export itself included"
    );
    assert!(
        rows.iter().all(|r| &r[3] == "cli:local:ops"),
        "the operator is the actor"
    );
    assert_eq!(
        &rows[3][7], "invalid",
        "the over-long grant was refused and recorded"
    );

    let json = ok(run(otpbot(dir.path()).args([
        "audit", "--format", "json", "--tool", "github", "--limit", "2",
    ])));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (&lines[0]["action"], &lines[1]["action"]),
        (&"audit".into(), &"revoke".into())
    );
    let table = ok(run(otpbot(dir.path()).args([
        "audit",
        "--since",
        "1h",
        "--user",
        "cli:local:ops",
    ])));
    assert!(
        table.contains("tool_add") && table.contains("role_add"),
        "{table}"
    );
    let err = run(otpbot(dir.path()).args(["audit", "--since", "yesterday"]));
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("--since `yesterday` is neither a duration")
    );

    ok(run(otpbot(dir.path()).args(["tool", "remove", "github"])));
    assert!(ok(run(otpbot(dir.path()).args(["tool", "list"]))).contains("No tools"));
}

#[test]
fn demo_prints_a_slash_line_that_returns_a_code_and_audit_verifies_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut server = Server(cmd.spawn().expect("spawn demo"));
    let stdout = server.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let slash_line = loop {
        assert!(Instant::now() < deadline, "demo printed no slash line");
        let line = lines.next().expect("demo exited early").expect("read");
        if line.contains(" slash ") && line.trim_end().ends_with("--as U123 github") {
            break line;
        }
    };
    let words: Vec<&str> = slash_line.split_whitespace().collect();
    assert_eq!(words[0], BIN, "the printed line runs this binary");
    let output = Command::new(words[0])
        .args(&words[1..])
        .env_clear()
        .output()
        .expect("run slash");
    let reply = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{reply} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        reply.contains("GitHub (demo)") && reply.contains("valid for"),
        "{reply}"
    );
    let code: String = reply
        .split('`')
        .nth(1)
        .expect("a code in backticks")
        .to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{reply}"
    );

    let refused = Command::new(words[0])
        .args(&words[1..words.len() - 3])
        .args(["--as", "U999", "github"])
        .env_clear()
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&refused.stdout).contains("no access"));

    let audit = Command::new(BIN)
        .env_clear()
        .args([
            "audit",
            "--tool",
            "github",
            "--code",
            &code,
            "--format",
            "csv",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("audit");
    let csv = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(
        csv.lines().count(),
        2,
        "exactly the one issuance of this code: {csv}"
    );
    assert!(
        csv.contains("slack:T0DEMO:U123,code,github,,issued"),
        "{csv}"
    );
    let wrong = Command::new(BIN)
        .env_clear()
        .args([
            "audit",
            "--tool",
            "github",
            "--code",
            "000000",
            "--format",
            "csv",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("audit");
    assert_eq!(
        String::from_utf8_lossy(&wrong.stdout).lines().count(),
        1,
        "a code otpbot never issued matches nothing"
    );
}

#[test]
fn tool_set_changes_channels_and_keeps_the_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(add_tool(
        dir.path(),
        "github",
        &format!("otpauth://totp/GitHub:org?secret={SEED_B32}&issuer=GitHub\n"),
    ));
    let set = ok(run(otpbot(dir.path()).args([
        "tool",
        "set",
        "github",
        "--approvals-channel",
        "C0123",
        "--notify-channel",
        "C0456",
    ])));
    assert!(
        set.contains("`github`: notices to C0456, requests to C0123."),
        "{set}"
    );
    let cleared = ok(run(otpbot(dir.path()).args([
        "tool",
        "set",
        "github",
        "--approvals-channel",
        "none",
    ])));
    assert!(
        cleared.contains("notices to C0456, requests to approvers directly"),
        "{cleared}"
    );
    let bad = run(otpbot(dir.path()).args(["tool", "set", "github", "--notify-channel", "C 1"]));
    assert!(!bad.status.success());
    let missing = run(otpbot(dir.path()).args(["tool", "set", "gitlab", "--notify-channel", "C1"]));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no tool `gitlab`"));
    let audit = ok(run(otpbot(dir.path()).args(["audit", "--format", "csv"])));
    assert!(
        audit.contains("channels: notify C0456, approvals C0123"),
        "{audit}"
    );
}
