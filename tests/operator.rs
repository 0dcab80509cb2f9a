//! The traps an operator and a newcomer fell into, each closed: keys that are never silently
//! replaced, re-enrolment only on purpose, enrolment from a QR image, a closed stdout pipe,
//! typed principals in each platform's own form, `otpbot slash` options anywhere, the code
//! verdict of `audit --code --at`, colourless logs in a pipe, and `secret set` that never
//! changes a secret without its audit record.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::aws::{self, Moto};
use common::cli::{fails, ok, Otpbot, BIN};

const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const OTHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn enrol(dir: &Path, name: &str) {
    ok(Otpbot::in_dir(dir)
        .args([
            "tool",
            "add",
            name,
            "--default-grant",
            "2h",
            "--max-grant",
            "1d",
        ])
        .input(SEED_B32));
}

#[test]
fn a_missing_master_key_next_to_a_store_stops_start_up_and_is_not_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrol(dir.path(), "github");
    let key = dir.path().join("keys/master.key");
    std::fs::remove_file(&key).expect("remove the key");
    let stderr = Otpbot::in_dir(dir.path()).args(["tool", "list"]).fails();
    assert!(
        stderr.contains("master.key is missing")
            && stderr.contains("restore master.key from your backup")
            && stderr.contains("OTPBOT_MASTER_KEY_FILE"),
        "{stderr}"
    );
    assert!(!key.exists(), "no new key was made over existing data");
}

#[test]
fn a_different_master_or_audit_key_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrol(dir.path(), "github");
    let key = dir.path().join("keys/master.key");
    let original = std::fs::read_to_string(&key).expect("read key");
    std::fs::write(&key, OTHER_KEY).expect("swap key");
    let stderr = Otpbot::in_dir(dir.path()).args(["tool", "list"]).fails();
    assert!(
        stderr.contains("the master key from")
            && stderr.contains("master.key")
            && stderr.contains("is not the one the store")
            && stderr.contains("seeds are encrypted under it"),
        "{stderr}"
    );
    std::fs::write(&key, original).expect("restore key");
    Otpbot::in_dir(dir.path()).args(["tool", "list"]).ok();

    let stderr = Otpbot::in_dir(dir.path())
        .env("OTPBOT_AUDIT_KEY", OTHER_KEY)
        .args(["tool", "list"])
        .fails();
    assert!(
        stderr.contains("the audit key from OTPBOT_AUDIT_KEY")
            && stderr.contains("audit chain and code MACs"),
        "{stderr}"
    );
    std::fs::remove_file(dir.path().join("keys/audit.key")).expect("remove");
    let stderr = Otpbot::in_dir(dir.path()).args(["tool", "list"]).fails();
    assert!(stderr.contains("audit.key is missing"), "{stderr}");
}

#[test]
fn a_store_from_before_key_checks_adopts_only_the_key_its_seeds_decrypt_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrol(dir.path(), "github");
    // Make the store look like one written before key check values existed: none recorded.
    let db = rusqlite::Connection::open(dir.path().join("data/otpbot.db")).expect("open");
    db.execute_batch("DELETE FROM key_checks;")
        .expect("forget the key checks");
    drop(db);
    let key = dir.path().join("keys/master.key");
    let original = std::fs::read_to_string(&key).expect("read key");
    std::fs::write(&key, OTHER_KEY).expect("swap key");
    let stderr = Otpbot::in_dir(dir.path()).args(["tool", "list"]).fails();
    assert!(stderr.contains("is not the one the store"), "{stderr}");
    std::fs::write(&key, original).expect("restore key");
    Otpbot::in_dir(dir.path()).args(["tool", "list"]).ok();
}

#[test]
fn a_master_key_kept_elsewhere_works_and_serve_warns_when_keys_sit_with_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = tempfile::tempdir().expect("tempdir");
    let key_file = vault.path().join("otpbot-master.key");
    std::fs::write(&key_file, OTHER_KEY).expect("write key");
    let elsewhere = || Otpbot::in_dir(dir.path()).env("OTPBOT_MASTER_KEY_FILE", &key_file);
    ok(elsewhere().args(["tool", "add", "github"]).input(SEED_B32));
    assert!(!dir.path().join("keys/master.key").exists());
    assert!(!dir.path().join("data/master.key").exists());
    assert!(elsewhere().args(["tool", "list"]).ok().contains("github"));

    // With the keys inside the data directory, `serve` says so (and, writing into a pipe, in
    // plain text: no ANSI colour codes).
    let other = tempfile::tempdir().expect("tempdir");
    let mut serve = Otpbot::in_dir(other.path())
        .key_dir(other.path().join("data/keys"))
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .command();
    serve.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = Killed(serve.spawn().expect("spawn serve"));
    let mut stderr = BufReader::new(child.0.stderr.take().expect("stderr"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        assert!(Instant::now() < deadline, "no warning: {seen}");
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read") == 0 {
            panic!("serve exited: {seen}");
        }
        seen.push_str(&line);
        if line.contains("is inside the data directory") {
            assert!(line.contains("OTPBOT_KEY_DIR"), "{line}");
            assert!(!line.contains('\u{1b}'), "ANSI escape in a pipe: {line:?}");
            break;
        }
    }
}

/// Kills the child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn re_adding_a_tool_needs_replace_and_keeps_its_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrol(dir.path(), "github");
    let stderr = fails(
        Otpbot::in_dir(dir.path())
            .args(["tool", "add", "github"])
            .input("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    );
    assert!(
        stderr.contains("already enrolled") && stderr.contains("--replace"),
        "{stderr}"
    );
    let stderr = fails(
        Otpbot::in_dir(dir.path())
            .args(["tool", "add", "gitlab", "--replace"])
            .input(SEED_B32),
    );
    assert!(stderr.contains("no tool `gitlab` to replace"), "{stderr}");

    let out = ok(Otpbot::in_dir(dir.path())
        .args(["tool", "add", "github", "--replace"])
        .input("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"));
    assert!(
        out.contains("Replaced the seed of `github`") && out.contains("default grant 2h, max 1d"),
        "limits kept: {out}"
    );
    let csv = Otpbot::in_dir(dir.path())
        .args(["audit", "--format", "csv"])
        .ok();
    let adds: Vec<&str> = csv.lines().filter(|l| l.contains(",tool_add,")).collect();
    assert_eq!(
        adds.len(),
        2,
        "one record per change, none for the refusal: {csv}"
    );
    assert!(adds.iter().any(|l| l.contains("replaced")), "{csv}");
}

/// `otpbot demo` in `dir`, logging to `log`: the running server and the URL it printed.
fn demo(dir: &Path, log: Stdio) -> (Killed, String) {
    let mut demo = Otpbot::in_dir(dir)
        .env("OTPBOT_LOG_FORMAT", "json")
        .args(["demo", "--listen", "127.0.0.1:0"])
        .command();
    demo.stdout(Stdio::piped()).stderr(log);
    let mut server = Killed(demo.spawn().expect("spawn demo"));
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "demo printed no URL");
        let line = lines.next().expect("demo exited").expect("read");
        if let Some(rest) = line.split("--url ").nth(1) {
            let url = rest.split_whitespace().next().expect("url").to_owned();
            return (server, url);
        }
    }
}

/// The log names each issued code's request id, caller, tool and outcome, as
/// `docs/operations.md` says, and never holds the code: no field of the line is the code.
#[test]
fn an_issued_code_is_logged_with_request_caller_and_tool_never_the_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = tempfile::NamedTempFile::new().expect("log");
    let (server, url) = demo(dir.path(), log.reopen().expect("log").into());
    enrol(dir.path(), "vault");
    Otpbot::in_dir(dir.path())
        .args(["grant", "slack:T0DEMO:U123", "vault"])
        .ok();
    let out = Otpbot::in_dir(dir.path())
        .args([
            "slash",
            "vault",
            "--as",
            "U123",
            "--url",
            &url,
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .ok();
    let code = common::code_in(&out);
    // The line goes out through the log's own thread: wait for it before the server stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(log.path()).expect("log");
        if text.contains("code issued") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    let issued: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "code issued")
        .collect();
    assert_eq!(issued.len(), 1, "{text}");
    let line = &issued[0];
    let span = &line["span"];
    assert_eq!(span["principal"], "slack:T0DEMO:U123", "{line}");
    assert_eq!(span["tool"], "vault", "{line}");
    assert!(
        span["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{line}"
    );
    assert_eq!(line["outcome"], "issued", "{line}");
    // The time is the one field whose digits could hold the code's by chance.
    let mut fields = line.clone();
    fields["timestamp"] = serde_json::Value::Null;
    assert!(
        !fields.to_string().contains(&code),
        "the code {code} is in the log: {line}"
    );
}

/// A PNG of a QR code holding `text`, drawn with a quiet zone and 8 px modules.
fn qr_png(text: &str, path: &Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).expect("encode");
    let width = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (8u32, 4u32);
    let side = (u32::try_from(width).expect("width") + 2 * quiet) * scale;
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx < quiet + width as u32
            && my < quiet + width as u32
            && colors[((my - quiet) as usize) * width + (mx - quiet) as usize]
                == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    image.save(path).expect("save png");
}

#[test]
fn a_tool_is_enrolled_from_a_qr_image_without_showing_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("github-2fa.png");
    qr_png(
        &format!("otpauth://totp/GitHub:ops?secret={SEED_B32}&issuer=GitHub"),
        &png,
    );
    let output = Otpbot::in_dir(dir.path())
        .args(["tool", "add", "github", "--qr"])
        .arg(&png)
        .output();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = ok(output);
    assert!(stdout.contains("Enrolled `github`"), "{stdout}");
    assert!(
        !stdout.contains(SEED_B32) && !stderr.contains(SEED_B32),
        "the secret is never shown"
    );

    // The seed read from the image is the one in it: the demo's code for it matches RFC 6238.
    // (Checked end to end in `slash_takes_options_anywhere_and_audit_gives_a_code_verdict`.)
    let not_otp = dir.path().join("wifi.png");
    qr_png("WIFI:S:office;T:WPA;P:SECRETVALUE;;", &not_otp);
    let stderr = Otpbot::in_dir(dir.path())
        .args(["tool", "add", "wifi", "--qr"])
        .arg(&not_otp)
        .fails();
    assert!(
        stderr.contains("does not hold an otpauth:// URI") && !stderr.contains("SECRETVALUE"),
        "{stderr}"
    );
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(&blank)
        .expect("save");
    assert!(Otpbot::in_dir(dir.path())
        .args(["tool", "add", "blank", "--qr"])
        .arg(&blank)
        .fails()
        .contains("no QR code found"));
    let text = dir.path().join("seed.png");
    std::fs::write(&text, SEED_B32).expect("write");
    assert!(Otpbot::in_dir(dir.path())
        .args(["tool", "add", "text", "--qr"])
        .arg(&text)
        .fails()
        .contains("not a PNG or JPEG image"));
    assert!(!Otpbot::in_dir(dir.path())
        .args(["tool", "list"])
        .ok()
        .contains("wifi"));
}

#[test]
fn a_closed_stdout_pipe_ends_the_listing_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..40 {
        enrol(dir.path(), &format!("tool-{i}"));
    }
    // `otpbot tool list | head -1`: the reader goes away after one line.
    let mut child = Otpbot::in_dir(dir.path())
        .args(["tool", "list"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?} {stderr}");
}

#[test]
fn typed_principals_must_be_in_the_platform_s_own_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    enrol(dir.path(), "github");
    let stderr = Otpbot::in_dir(dir.path())
        .args(["grant", "slack:t0demo:ualice", "github"])
        .fails();
    assert!(
        stderr.contains("slack:t0demo:ualice") && stderr.contains("slack:T…:U…"),
        "{stderr}"
    );
    let stderr = Otpbot::in_dir(dir.path())
        .args(["grant", "teams:contoso:alice", "github"])
        .fails();
    assert!(stderr.contains("GUIDs like"), "{stderr}");
    let stderr = Otpbot::in_dir(dir.path())
        .env("OTPBOT_ADMINS", "slack:T0DEMO:alice")
        .args(["tool", "list"])
        .fails();
    assert!(
        stderr.contains("OTPBOT_ADMINS") && stderr.contains("slack:T…:U…"),
        "{stderr}"
    );
    Otpbot::in_dir(dir.path())
        .args(["grant", "slack:T0DEMO:UALICE", "github"])
        .ok();
}

#[test]
fn slash_takes_options_anywhere_and_audit_gives_a_code_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (_server, url) = demo(dir.path(), Stdio::null());
    // The QR-enrolled seed, granted to the demo's admin.
    let png = dir.path().join("qr.png");
    qr_png(
        &format!("otpauth://totp/Ops:root?secret={SEED_B32}&issuer=AWS"),
        &png,
    );
    Otpbot::in_dir(dir.path())
        .args(["tool", "add", "aws-root", "--qr"])
        .arg(&png)
        .ok();
    Otpbot::in_dir(dir.path())
        .args(["grant", "slack:T0DEMO:U123", "aws-root"])
        .ok();

    // Options after the text, and between its words.
    let out = Otpbot::in_dir(dir.path())
        .args([
            "slash",
            "aws-root",
            "--as",
            "U123",
            "--url",
            &url,
            "--data-dir",
        ])
        .arg(&data)
        .ok();
    let code = common::code_in(&out);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expected: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| common::rfc6238::totp_sha1(&data_encoding_base32(SEED_B32), *t, 30, 6))
        .collect();
    assert!(
        expected.contains(&code),
        "{code} is the QR seed's code: {out}"
    );

    let used_at = chrono_like_now();
    let verdict = ok(Otpbot::in_dir(dir.path())
        .args(["audit", "--code", &code, "--at", &used_at])
        .output());
    assert!(
        verdict.contains("issued by otpbot to slack:T0DEMO:U123 at")
            && verdict.contains("aws-root code"),
        "{verdict}"
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let stderr = fails(
        Otpbot::in_dir(dir.path())
            .args(["audit", "--code", wrong, "--at", &used_at])
            .output(),
    );
    assert!(
        stderr.contains("no code issued in that window matches"),
        "{stderr}"
    );
    // A day earlier, the real code was not issued either.
    let stderr = Otpbot::in_dir(dir.path())
        .args(["audit", "--code", &code, "--at", "1d", "--tool", "aws-root"])
        .fails();
    assert!(
        stderr.contains("no code issued in that window matches"),
        "{stderr}"
    );
}

/// Base32 (RFC 4648, no padding) to bytes, for the independent RFC 6238 check.
fn data_encoding_base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        value = (value << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// Now, as RFC 3339 (what `--at` takes, like a sign-in log's time).
fn chrono_like_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    otpbot::domain::Timestamp::from_unix(i64::try_from(now).expect("time")).rfc3339()
}

/// On AWS, `secret set` never changes a secret without its audit record, and a failure is one
/// plain line, not an SDK dump.
#[tokio::test]
async fn secret_set_changes_nothing_without_its_record_and_fails_in_one_line() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_set = |endpoint: &str, value: &str| {
        Otpbot::in_dir(dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("OTPBOT_BACKEND", "aws")
            .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
            .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
            .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
            .env("OTPBOT_AUDIT_KEY", OTHER_KEY)
            .args(["secret", "set", "slack-signing-secret"])
            .input(value)
    };
    let parameter = format!("{}/slack/signing-secret", settings.ssm_prefix);
    ok(secret_set(&moto.url, "first-secret"));
    let read = || async {
        store
            .parameter(&parameter)
            .await
            .expect("read")
            .map(|v| secrecy::ExposeSecret::expose_secret(&v).to_owned())
    };
    assert_eq!(read().await.as_deref(), Some("first-secret"));

    // No audit table: nothing may change.
    store
        .dynamodb()
        .delete_table()
        .table_name(&settings.audit_table)
        .send()
        .await
        .expect("delete audit table");
    let stderr = fails(secret_set(&moto.url, "second-secret"));
    assert!(stderr.contains("the secret was not changed"), "{stderr}");
    assert_eq!(read().await.as_deref(), Some("first-secret"));

    // Nothing listening: one line naming what failed, no Debug dump of SDK structures.
    let closed = format!(
        "http://{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
    );
    let stderr = fails(secret_set(&closed, "third-secret"));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains("DispatchFailure") && !stderr.contains("ConnectorError {"),
        "{stderr}"
    );
}

/// `otpbot aws create-tables` makes the tables Terraform declares in the emulator, and the AWS
/// backend then works on them from the CLI through to an issued code.
#[tokio::test]
async fn aws_create_tables_makes_the_terraform_tables_and_the_backend_runs_on_them() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let dir = tempfile::tempdir().expect("tempdir");
    let aws_cli = || {
        Otpbot::in_dir(dir.path())
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("OTPBOT_BACKEND", "aws")
            .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
            .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
            .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
    };
    let out = aws_cli().args(["aws", "create-tables"]).ok();
    assert!(
        out.contains(&format!("created table {}", settings.access_table))
            && out.contains(&format!("created table {}", settings.audit_table)),
        "{out}"
    );
    // Again: nothing to do, and it says so.
    let again = aws_cli().args(["aws", "create-tables"]).ok();
    assert_eq!(again.matches("already exists").count(), 2, "{again}");

    // What DynamoDB holds is what Terraform declares.
    let store = std::sync::Arc::new(otpbot::store::aws::AwsStore::new(
        &moto.sdk_config().await,
        settings.clone(),
    ));
    for (resource, name) in [
        ("access", &settings.access_table),
        ("audit", &settings.audit_table),
    ] {
        let declared = common::terraform::table(resource);
        let described = store
            .dynamodb()
            .describe_table()
            .table_name(name)
            .send()
            .await
            .expect("describe")
            .table
            .expect("table");
        let key = |kind: &str| {
            described
                .key_schema()
                .iter()
                .find(|k| k.key_type().as_str() == kind)
                .map(|k| k.attribute_name().to_owned())
        };
        assert_eq!(key("HASH").as_deref(), Some(declared.hash_key.as_str()));
        assert_eq!(key("RANGE").as_deref(), Some(declared.range_key.as_str()));
        let mut attributes: Vec<(String, String)> = described
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect();
        attributes.sort();
        let mut expected = declared.attributes.clone();
        expected.sort();
        assert_eq!(attributes, expected, "{resource}");
        let mut indexes: Vec<(String, String, String, String)> = described
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                let part = |kind: &str| {
                    i.key_schema()
                        .iter()
                        .find(|k| k.key_type().as_str() == kind)
                        .map(|k| k.attribute_name().to_owned())
                        .unwrap_or_default()
                };
                (
                    i.index_name().unwrap_or_default().to_owned(),
                    part("HASH"),
                    part("RANGE"),
                    i.projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        indexes.sort();
        let mut expected = declared.indexes.clone();
        expected.sort();
        assert_eq!(indexes, expected, "{resource}");
        let ttl = store
            .dynamodb()
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .expect("describe TTL")
            .time_to_live_description
            .filter(|t| t.time_to_live_status().map(|s| s.as_str()) == Some("ENABLED"))
            .and_then(|t| t.attribute_name().map(str::to_owned));
        assert_eq!(ttl, declared.ttl_attribute, "{resource}: TTL");
    }

    // The backend on these tables: enrol and grant from the CLI, then a code over Slack.
    aws_cli()
        .args(["secret", "set", "audit-key", "--generate"])
        .ok();
    ok(aws_cli()
        .args(["tool", "add", "vault", "--max-grant", "1d"])
        .input(SEED_B32));
    let user = "U0VAULT";
    aws_cli()
        .args(["grant", &format!("slack:{}:{user}", common::TEAM), "vault"])
        .ok();
    let app = common::TestApp::spawn_on(
        otpbot::store::Stores::single(store),
        tempfile::tempdir().expect("tempdir"),
        common::Options::default(),
    )
    .await;
    let reply = app.slash(user, "vault").await;
    let text = reply.ephemeral();
    let code = text.split('`').nth(1).unwrap_or_default();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "a code: {text}"
    );
    assert_eq!(
        code,
        common::rfc6238::totp_sha1(
            &data_encoding_base32(SEED_B32),
            u64::try_from(app.now().unix()).expect("time"),
            30,
            6
        ),
        "the enrolled seed's code at the app's time"
    );
}

/// Without an AWS region, an AWS command says so in one line instead of dumping the SDK's
/// failed look-ups (instance metadata, credentials) onto the terminal.
#[test]
fn an_aws_command_without_a_region_says_so_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [&["tool", "list"][..], &["aws", "create-tables"][..]] {
        let stderr = Otpbot::in_dir(dir.path())
            .env("HOME", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("OTPBOT_BACKEND", "aws")
            .args(args)
            .fails();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("AWS_REGION"), "{args:?}: {stderr}");
    }
}

/// Log lines are coloured only for a person at a terminal: not in a pipe, not with `NO_COLOR`
/// (<https://no-color.org>: set and not empty). The terminal is a pseudo-terminal from
/// util-linux `script`; without it the terminal half is skipped, saying so.
#[test]
fn colour_only_at_a_terminal_and_never_with_no_color() {
    const ESC: char = '\u{1b}';
    let dir = tempfile::tempdir().expect("tempdir");
    // An unknown OTPBOT_ variable makes every command log one warning.
    let piped = Otpbot::in_dir(dir.path())
        .env("OTPBOT_TYPO", "1")
        .args(["tool", "list"])
        .output();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.contains("OTPBOT_TYPO"), "{stderr}");
    assert!(!stderr.contains(ESC), "no colour into a pipe: {stderr:?}");

    let at_terminal = |no_color: Option<&str>| {
        let mut line = format!("env OTPBOT_TYPO=1 {BIN} tool list");
        if let Some(value) = no_color {
            line = format!("env NO_COLOR={value} {line}");
        }
        let mut script = Command::new("script");
        script
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .env("OTPBOT_DATA_DIR", dir.path().join("data"))
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::null());
        script.output().ok().map(|out| {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(text.contains("OTPBOT_TYPO"), "{text}");
            text
        })
    };
    let Some(coloured) = at_terminal(None) else {
        eprintln!("skipped the terminal half: util-linux `script` is not installed");
        return;
    };
    assert!(coloured.contains(ESC), "colour at a terminal: {coloured:?}");
    let plain = at_terminal(Some("1")).expect("script ran before");
    assert!(!plain.contains(ESC), "NO_COLOR=1: {plain:?}");
    // An empty NO_COLOR does not count.
    let empty = at_terminal(Some("")).expect("script ran before");
    assert!(empty.contains(ESC), "NO_COLOR empty: {empty:?}");
}

/// On AWS, `tool add --replace` is all-or-nothing: with the audit table gone the new seed is
/// written as a new parameter version that nothing pins, so codes still come from the recorded
/// seed; and a failure is one line.
#[tokio::test]
async fn tool_add_on_aws_changes_nothing_without_its_record_and_fails_in_one_line() {
    const OTHER_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tool_add = |endpoint: &str, seed: &str, replace: bool| {
        Otpbot::in_dir(dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("OTPBOT_BACKEND", "aws")
            .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
            .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
            .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
            .env("OTPBOT_AUDIT_KEY", OTHER_KEY)
            .args(["tool", "add", "github"])
            .args(replace.then_some("--replace"))
            .input(seed)
    };
    ok(tool_add(&moto.url, SEED_B32, false));
    let stderr = fails(tool_add(&moto.url, OTHER_SEED, false));
    assert!(stderr.contains("--replace"), "{stderr}");

    store
        .dynamodb()
        .delete_table()
        .table_name(&settings.audit_table)
        .send()
        .await
        .expect("delete audit table");
    let stderr = fails(tool_add(&moto.url, OTHER_SEED, true));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let tool = otpbot::domain::ToolName::parse("github").expect("name");
    let fresh = otpbot::store::aws::AwsStore::new(&moto.sdk_config().await, settings.clone());
    let seed = otpbot::store::SecretStore::seed(&fresh, &tool)
        .await
        .expect("read seed")
        .expect("seed");
    assert!(
        seed.expose_uri().contains(SEED_B32),
        "codes still come from the recorded seed"
    );

    let closed = format!(
        "http://{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
    );
    let stderr = fails(tool_add(&closed, OTHER_SEED, true));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains("DispatchFailure") && !stderr.contains("ConnectorError {"),
        "{stderr}"
    );
}

/// On AWS, an audit key that was never written is named with the command that writes it, in
/// one line.
#[tokio::test]
async fn a_missing_ssm_audit_key_is_named_with_the_command_that_writes_it() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = Otpbot::in_dir(dir.path())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("OTPBOT_BACKEND", "aws")
        .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
        .args(["tool", "list"])
        .fails();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{}/audit/hmac-key", settings.ssm_prefix))
            && stderr.contains("otpbot secret set audit-key --generate"),
        "{stderr}"
    );
}
