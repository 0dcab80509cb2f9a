//! The `otpbot` binary as an operator and a newcomer use it: enrol a seed from stdin, grant,
//! export the audit log, verify a code, and the one-command demo with its printed `slash` line.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cli::{ok, store_key_dir, Otpbot, BIN};

const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// `otpbot` on the store in `dir`, with the Slack settings `serve` needs.
fn otpbot(dir: &Path) -> Otpbot {
    Otpbot::on_store(dir)
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
}

/// `otpbot tool add` of `name` with `seed` on stdin.
fn add_tool(dir: &Path, name: &str, seed: &str) -> Output {
    otpbot(dir)
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
        .input(seed)
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
    let list = otpbot(dir.path()).args(["tool", "list"]).ok();
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
    let bad = otpbot(dir.path()).args(["tool", "add", "../etc"]).output();
    assert!(
        !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("not a tool name")
    );

    let out = otpbot(dir.path())
        .args([
            "grant",
            "slack:T0DEMO:UALICE",
            "github",
            "--reason",
            "release",
        ])
        .ok();
    assert!(out.contains("for 2h"), "{out}");
    let over = otpbot(dir.path())
        .args(["grant", "slack:T0DEMO:UALICE", "github", "--for", "2w"])
        .output();
    assert!(!over.status.success() && String::from_utf8_lossy(&over.stderr).contains("at most 1d"));
    otpbot(dir.path())
        .args(["role", "add", "slack:T0DEMO:UAUD", "auditor"])
        .ok();
    otpbot(dir.path())
        .args(["revoke", "slack:T0DEMO:UALICE", "github"])
        .ok();

    let csv = otpbot(dir.path()).args(["audit", "--format", "csv"]).ok();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[0], "time");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let actions: Vec<&str> = rows.iter().map(|r| &r[4]).collect();
    assert_eq!(
        actions,
        [
            "audit",
            "revoke",
            "role_add",
            "grant",
            "grant",
            "tool_add",
            "chain_start"
        ],
        "newest first, the export itself included, back to the chain's start"
    );
    assert!(
        rows[..6].iter().all(|r| &r[3] == "cli:local:ops"),
        "the operator is the actor"
    );
    assert_eq!(
        &rows[3][7], "invalid",
        "the over-long grant was refused and recorded"
    );

    let json = otpbot(dir.path())
        .args([
            "audit", "--format", "json", "--tool", "github", "--limit", "2",
        ])
        .ok();
    let lines: Vec<serde_json::Value> = serde_json::from_str(&json).expect("one JSON array");
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (&lines[0]["action"], &lines[1]["action"]),
        (&"audit".into(), &"revoke".into())
    );
    let table = otpbot(dir.path())
        .args(["audit", "--since", "1h", "--user", "cli:local:ops"])
        .ok();
    assert!(
        table.contains("tool_add") && table.contains("role_add"),
        "{table}"
    );
    let err = otpbot(dir.path())
        .args(["audit", "--since", "yesterday"])
        .output();
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("--since `yesterday` is neither a duration")
    );

    otpbot(dir.path()).args(["tool", "remove", "github"]).ok();
    assert!(otpbot(dir.path())
        .args(["tool", "list"])
        .ok()
        .contains("No tools"));
}

#[test]
fn demo_prints_a_slash_line_that_returns_a_code_and_audit_verifies_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Otpbot::new()
        .key_dir(store_key_dir(dir.path()))
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .command();
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
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
    assert_eq!(
        Path::new(words[0])
            .canonicalize()
            .expect("the printed program exists"),
        Path::new(BIN).canonicalize().expect("binary"),
        "the printed line runs this binary"
    );
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
    let code = common::code_in(&reply);

    let refused = Command::new(words[0])
        .args(&words[1..words.len() - 3])
        .args(["--as", "U999", "github"])
        .env_clear()
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&refused.stdout).contains("no access"));

    let audit = Otpbot::new()
        .key_dir(store_key_dir(dir.path()))
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
        .output();
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
    let wrong = Otpbot::new()
        .key_dir(store_key_dir(dir.path()))
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
        .output();
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
    let set = otpbot(dir.path())
        .args([
            "tool",
            "set",
            "github",
            "--approvals-channel",
            "C0123",
            "--notify-channel",
            "C0456",
        ])
        .ok();
    assert!(
        set.contains("`github`: notices to C0456, requests to C0123."),
        "{set}"
    );
    let cleared = otpbot(dir.path())
        .args(["tool", "set", "github", "--approvals-channel", "none"])
        .ok();
    assert!(
        cleared.contains("notices to C0456, requests to approvers directly"),
        "{cleared}"
    );
    let bad = otpbot(dir.path())
        .args(["tool", "set", "github", "--notify-channel", "C 1"])
        .output();
    assert!(!bad.status.success());
    let missing = otpbot(dir.path())
        .args(["tool", "set", "gitlab", "--notify-channel", "C1"])
        .output();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no tool `gitlab`"));
    let audit = otpbot(dir.path()).args(["audit", "--format", "csv"]).ok();
    assert!(
        audit.contains("channels: notify C0456, approvals C0123"),
        "{audit}"
    );
}

// ---- Settings: declared once, listed by `otpbot help settings`, documented in docs/cli.md. ----

/// The `OTPBOT_*` names written in `text`, in order of appearance.
fn otpbot_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("OTPBOT_") {
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..len].trim_end_matches('_');
        if name.len() > "OTPBOT_".len() {
            names.push(name.to_owned());
        }
        rest = &tail[len..];
    }
    names
}

/// The variables the settings tables of docs/cli.md document: the first cell of each row
/// naming one, `/ _FILE` there adding its file variant.
fn documented_settings() -> std::collections::BTreeSet<String> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md"))
        .expect("docs/cli.md");
    let mut documented = std::collections::BTreeSet::new();
    for line in page.lines().filter(|l| l.starts_with("| `OTPBOT_")) {
        let cell = line.split('|').nth(1).unwrap_or_default();
        for name in otpbot_names(cell) {
            if cell.contains("`_FILE`") {
                documented.insert(format!("{name}_FILE"));
            }
            documented.insert(name);
        }
    }
    documented
}

/// The `OTPBOT_*` names in the non-test source of `src/`: `tests.rs` files and the
/// `#[cfg(test)]` module at the end of a file are left out.
fn source_names() -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, names: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, names);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                names.extend(otpbot_names(code));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    walk(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut names,
    );
    names
}

#[test]
fn help_settings_lists_every_setting_and_the_docs_document_the_same_set() {
    let help = Otpbot::new().args(["help", "settings"]).ok();
    let declared: std::collections::BTreeSet<String> =
        otpbot::config::variables().into_iter().collect();
    assert!(declared.len() > 40, "{declared:?}");
    for var in &declared {
        assert!(
            help.contains(&format!("[env: {var}=")) || help.contains(&format!("[env: {var}]")),
            "`otpbot help settings` does not list {var}:\n{help}"
        );
    }
    // Every variable named anywhere in the program (messages, defaults) is a declared one, so
    // none is read or advertised behind the declaration's back.
    let named = source_names();
    let undeclared: Vec<_> = named.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "named in src/ but not declared: {undeclared:?}"
    );
    let documented = documented_settings();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "not in the settings tables of docs/cli.md: {undocumented:?}; in them but not read: \
         {unknown:?}"
    );
}

#[test]
fn secret_values_never_show_in_help_and_are_refused_on_the_command_line() {
    let help = Otpbot::new()
        .env("OTPBOT_SLACK_SIGNING_SECRET", "SECRETVALUE-signing")
        .env("OTPBOT_MASTER_KEY", "ab".repeat(32))
        .env("OTPBOT_LISTEN", "127.0.0.1:4567")
        .args(["help", "settings"])
        .ok();
    assert!(
        help.contains("[env: OTPBOT_LISTEN=127.0.0.1:4567]"),
        "help shows the values of plain settings: {help}"
    );
    assert!(
        !help.contains("SECRETVALUE") && !help.contains(&"ab".repeat(32)),
        "help shows a secret: {help}"
    );
    assert!(
        help.contains("[env: OTPBOT_SLACK_SIGNING_SECRET]"),
        "{help}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let refused = otpbot(dir.path())
        .args(["tool", "list", "--slack-bot-token", "xoxb-SECRETVALUE"])
        .output();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("OTPBOT_SLACK_BOT_TOKEN") && !stderr.contains("SECRETVALUE"),
        "{stderr}"
    );
}

#[test]
fn a_bad_setting_names_its_variable_or_its_flag_where_it_was_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from_env = otpbot(dir.path())
        .env("OTPBOT_RATE_PER_TOOL", "ten")
        .args(["tool", "list"])
        .output();
    let stderr = String::from_utf8_lossy(&from_env.stderr);
    assert!(!from_env.status.success(), "{stderr}");
    assert!(
        stderr.contains("OTPBOT_RATE_PER_TOOL: `ten` is not like 10/10m"),
        "{stderr}"
    );
    let from_flag = otpbot(dir.path())
        .args(["tool", "list", "--rate-per-tool=ten"])
        .output();
    let stderr = String::from_utf8_lossy(&from_flag.stderr);
    assert!(
        !from_flag.status.success()
            && stderr.contains("--rate-per-tool")
            && stderr.contains("is not like 10/10m"),
        "{stderr}"
    );
    // A flag wins over its variable, after the subcommand as before it.
    otpbot(dir.path())
        .env("OTPBOT_DATA_DIR", dir.path().join("elsewhere"))
        .args(["role", "add", "slack:T0DEMO:UAUD", "auditor", "--data-dir"])
        .arg(dir.path().join("given"))
        .ok();
    assert!(dir.path().join("given").join("otpbot.db").exists());
    assert!(!dir.path().join("elsewhere").exists());
}

/// The Lambda has no command line: it reads its settings from its environment alone. A rate
/// limit set there is the one it enforces (the default would allow 30 commands).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_takes_its_settings_from_its_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut api = common::lambda::LambdaApi::start().await;
    let mut cmd = otpbot(dir.path())
        .env("OTPBOT_RATE_PER_CALLER", "1/1h")
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
        .command();
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut function = cmd.spawn().expect("spawn the Lambda binary");
    let mut replies = Vec::new();
    for _ in 0..2 {
        let ts = otpbot::domain::Clock::now(&otpbot::domain::SystemClock).unix();
        let body = common::slash_body("T0DEMO", "U0ALICE", "help");
        // An API Gateway HTTP API (payload 2.0) event:
        // <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>.
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /slack/commands",
            "rawPath": "/slack/commands",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": ts.to_string(),
                "x-slack-signature": common::signature(ts, body.as_bytes()),
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": { "method": "POST", "path": "/slack/commands", "protocol": "HTTP/1.1", "sourceIp": "3.3.3.3", "userAgent": "Slackbot 1.0" },
                "requestId": "req-1",
                "routeKey": "POST /slack/commands",
                "stage": "$default",
                "time": "03/Nov/2026:10:00:05 +0000",
                "timeEpoch": 1_793_700_005_000u64
            },
            "body": body,
            "isBase64Encoded": false
        });
        api.events.send(event.to_string()).await.expect("queue");
        let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
            .await
            .expect("the function answered in time")
            .expect("an answer")
            .unwrap_or_else(|e| panic!("the function reported an error: {e}"));
        replies.push(answer);
    }
    let _ = function.kill();
    let _ = function.wait();
    assert!(
        !replies[0].contains("too many requests"),
        "the first command is answered: {}",
        replies[0]
    );
    assert!(
        replies[1].contains("too many requests"),
        "OTPBOT_RATE_PER_CALLER=1/1h from the environment: {}",
        replies[1]
    );
}

#[test]
fn the_operator_names_a_tools_approvers() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(add_tool(dir.path(), "github", "JBSWY3DPEHPK3PXP"));
    let out = otpbot(dir.path())
        .args(["role", "add", "slack:T0DEMO:UBOB", "approver", "github"])
        .ok();
    assert!(out.contains("UBOB"), "{out}");
    let missing = otpbot(dir.path())
        .args(["role", "add", "slack:T0DEMO:UBOB", "approver"])
        .output();
    assert!(
        !missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("per tool"),
        "{missing:?}"
    );
    let extra = otpbot(dir.path())
        .args(["role", "add", "slack:T0DEMO:UBOB", "admin", "github"])
        .output();
    assert!(
        !extra.status.success()
            && String::from_utf8_lossy(&extra.stderr).contains("only the approver role"),
        "{extra:?}"
    );
    let csv = otpbot(dir.path()).args(["audit", "--format", "csv"]).ok();
    assert!(
        csv.lines()
            .any(|l| l.contains("approver") && l.contains("slack:T0DEMO:UBOB")),
        "{csv}"
    );
    otpbot(dir.path())
        .args(["role", "remove", "slack:T0DEMO:UBOB", "approver", "github"])
        .ok();
}
