//! Sealed audit periods on the AWS backend, against a real local DynamoDB + S3 emulator with
//! Object Lock: sealing, `otpbot audit verify` (the real binary) on an untouched log, and each
//! kind of tampering caught with its message and a non-zero exit.

mod common;

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule,
};
use common::aws::{self, Moto};
use otpbot::domain::{
    Action, AuditEvent, Clock, EventId, Outcome, Principal, RequestId, SystemClock, Timestamp,
    ToolName,
};
use otpbot::keys::{decode_hex_key, AuditKey};
use otpbot::store::aws::{AwsSettings, AwsStore, SealSettings};
use otpbot::store::AuditStore;

const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const PERIOD: i64 = 300;

struct Fixture {
    moto: std::sync::Arc<Moto>,
    settings: AwsSettings,
    seal: SealSettings,
    store: std::sync::Arc<AwsStore>,
    s3: aws_sdk_s3::Client,
    /// The records written, oldest first.
    events: Vec<AuditEvent>,
}

fn key() -> AuditKey {
    AuditKey::new(decode_hex_key(KEY_HEX, "test key").expect("key"))
}

fn event(at: Timestamp, n: usize) -> AuditEvent {
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: Principal::parse(&format!("slack:T0DEMO:U{n}")).expect("principal"),
        action: Action::Code,
        tool: Some(ToolName::parse("github").expect("tool")),
        subject: None,
        outcome: Outcome::Issued,
        detail: None,
        channel: Some("C01".into()),
        code_mac: Some(format!("{n:064x}")),
    }
}

/// Makes a bucket with Object Lock in compliance mode, as the Terraform module does.
async fn locked_bucket(s3: &aws_sdk_s3::Client, name: &str) {
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("create bucket");
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Compliance)
                .days(1)
                .build(),
        )
        .build();
    s3.put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(rule)
                .build(),
        )
        .send()
        .await
        .expect("object lock configuration");
}

/// Three closed periods of records plus one record too new to seal, not sealed yet.
async fn unsealed_log() -> Fixture {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let bucket = format!("seals-{:016x}", rand::random::<u64>());
    locked_bucket(&s3, &bucket).await;
    let seal = SealSettings {
        bucket: Some(bucket),
        ..SealSettings::default()
    };
    let now = SystemClock.now();
    let base = Timestamp::from_unix((now.unix() / PERIOD - 12) * PERIOD);
    let mut events = Vec::new();
    for (n, offset) in [10, 20, 20, 400, 410, 1_500, 1_520].into_iter().enumerate() {
        events.push(event(base.plus_secs(offset), n));
    }
    events.push(event(now, 99));
    for e in &events {
        store.append(e).await.expect("append");
    }
    Fixture {
        moto,
        settings,
        seal,
        store,
        s3,
        events,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_sealing_runs_leave_one_consistent_sequence_of_seals() {
    let f = unsealed_log().await;
    let now = SystemClock.now();
    let (key_a, key_b) = (key(), key());
    let (a, b) = tokio::join!(
        f.store
            .seal_closed_periods(&f.s3, &key_a, &f.seal, now, None),
        f.store
            .seal_closed_periods(&f.s3, &key_b, &f.seal, now, None),
    );
    let (a, b) = (a.expect("first run"), b.expect("second run"));
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(a, b, "both runs end with the seals that stand");
    let (ok, stdout, stderr) = verify(&f);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ok: 7 records, 3 seals"), "{stdout}");
}

/// The same log, sealed by the library.
async fn sealed_log() -> Fixture {
    let f = unsealed_log().await;
    let now = SystemClock.now();
    let sealed = f
        .store
        .seal_closed_periods(&f.s3, &key(), &f.seal, now, None)
        .await
        .expect("seal");
    assert_eq!(sealed.len(), 3, "three periods hold records: {sealed:?}");
    assert_eq!(
        f.store
            .seal_closed_periods(&f.s3, &key(), &f.seal, now, None)
            .await
            .expect("seal again")
            .len(),
        0,
        "sealing again finds nothing new"
    );
    f
}

/// Runs `otpbot audit verify` on the fixture's AWS backend: (success, stdout, stderr).
fn verify(f: &Fixture) -> (bool, String, String) {
    verify_with(f, &[])
}

fn verify_with(f: &Fixture, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otpbot"))
        .args(["audit", "verify"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &f.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("OTPBOT_BACKEND", "aws")
        .env("OTPBOT_ACCESS_TABLE", &f.settings.access_table)
        .env("OTPBOT_AUDIT_TABLE", &f.settings.audit_table)
        .env("OTPBOT_SSM_PREFIX", &f.settings.ssm_prefix)
        .env("OTPBOT_AUDIT_KEY", KEY_HEX)
        .env(
            "OTPBOT_AUDIT_BUCKET",
            f.seal.bucket.as_deref().expect("bucket"),
        )
        .output()
        .expect("run otpbot");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn record_key(f: &Fixture, i: usize) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("stream".to_owned(), AttributeValue::S("events".into())),
        (
            "id".to_owned(),
            AttributeValue::S(f.events[i].id.to_string()),
        ),
    ])
}

async fn set(f: &Fixture, i: usize, field: &str, value: AttributeValue) {
    f.store
        .dynamodb()
        .update_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(record_key(f, i)))
        .update_expression("SET #f = :v")
        .expression_attribute_names("#f", field)
        .expression_attribute_values(":v", value)
        .send()
        .await
        .expect("update");
}

async fn get(f: &Fixture, i: usize) -> HashMap<String, AttributeValue> {
    f.store
        .dynamodb()
        .get_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(record_key(f, i)))
        .send()
        .await
        .expect("get")
        .item
        .expect("item")
}

fn seal_key(f: &Fixture, seal: usize) -> HashMap<String, AttributeValue> {
    // Each seal starts where the one before it ended; the first at its first record's period.
    let period = |i: usize| f.events[i].at.unix() / PERIOD * PERIOD;
    let start = [period(0), period(0) + PERIOD, period(3) + PERIOD][seal];
    HashMap::from([
        ("stream".to_owned(), AttributeValue::S("seals".into())),
        ("id".to_owned(), AttributeValue::S(format!("{start:011}"))),
    ])
}

fn assert_fails(f: &Fixture, case: &str, expected: &str) {
    let (ok, stdout, stderr) = verify(f);
    assert!(!ok, "{case}: verify must fail; stdout: {stdout}");
    assert!(
        stderr.contains(expected),
        "{case}: expected `{expected}` in: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_an_untouched_sealed_log() {
    let f = sealed_log().await;
    let (ok, stdout, stderr) = verify(&f);
    assert!(ok, "verify fails on an untouched log: {stderr}");
    assert!(
        stdout.starts_with(&format!(
            "ok: 7 records, 3 seals, from {} to {}",
            f.events[0].at, f.events[6].at
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 newer records not yet sealed"),
        "{stdout}"
    );
    let listed =
        f.s3.list_objects_v2()
            .bucket(f.seal.bucket.as_deref().expect("bucket"))
            .prefix("audit/records/")
            .send()
            .await
            .expect("list");
    assert_eq!(listed.contents().len(), 3, "one JSON Lines object per seal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tampering_with_the_table_is_caught() {
    let f = sealed_log().await;
    f.store
        .dynamodb()
        .delete_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(record_key(&f, 4)))
        .send()
        .await
        .expect("delete");
    assert_fails(&f, "delete a record", "record missing: record #5");

    for (field, value) in [
        ("tool", AttributeValue::S("aws-root".into())),
        ("actor", AttributeValue::S("slack:T0DEMO:UMALLORY".into())),
        ("outcome", AttributeValue::S("no_grant".into())),
        (
            "at",
            AttributeValue::N((f.events[1].at.unix() + 7).to_string()),
        ),
    ] {
        let f = sealed_log().await;
        set(&f, 1, field, value).await;
        assert_fails(&f, &format!("change {field}"), "record altered: record #2");
    }

    let f = sealed_log().await;
    let forged = event(f.events[3].at.plus_secs(5), 42);
    f.store.append(&forged).await.expect("append forged");
    assert_fails(
        &f,
        "insert a forged record",
        &format!(
            "record inserted into a sealed period: record id {}",
            forged.id
        ),
    );

    let f = sealed_log().await;
    let (a, b) = (get(&f, 5).await, get(&f, 6).await);
    for (i, other) in [(5, &b), (6, &a)] {
        for field in ["actor", "request_id", "code_mac", "at"] {
            set(&f, i, field, other[field].clone()).await;
        }
    }
    assert_fails(&f, "swap two records", "records reordered: records #6");

    let f = sealed_log().await;
    f.store
        .dynamodb()
        .delete_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(seal_key(&f, 1)))
        .send()
        .await
        .expect("delete seal");
    assert_fails(&f, "delete a seal", "seal missing: the seal of the period");

    // Overwriting a locked copy only adds a newer version; the check reads the first one.
    let f = sealed_log().await;
    let start = Timestamp::from_unix(f.events[3].at.unix() / PERIOD * PERIOD + PERIOD);
    f.s3.put_object()
        .bucket(f.seal.bucket.as_deref().expect("bucket"))
        .key(f.seal.records_key(start))
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(
            otpbot::audit::seal::jsonl(&f.events[5..6])
                .into_bytes()
                .into(),
        )
        .send()
        .await
        .expect("overwrite the copy");
    f.store
        .dynamodb()
        .delete_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(record_key(&f, 6)))
        .send()
        .await
        .expect("delete");
    assert_fails(
        &f,
        "delete a record and overwrite its locked copy",
        "record missing: record #7",
    );

    let f = sealed_log().await;
    let item = f
        .store
        .dynamodb()
        .get_item()
        .table_name(&f.settings.audit_table)
        .set_key(Some(seal_key(&f, 2)))
        .send()
        .await
        .expect("get seal")
        .item
        .expect("seal item");
    let text = item["seal"].as_s().expect("seal text");
    let mut seal: serde_json::Value = serde_json::from_str(text).expect("json");
    seal["records"] = serde_json::json!(1);
    let mut altered = item.clone();
    altered.insert("seal".into(), AttributeValue::S(seal.to_string()));
    f.store
        .dynamodb()
        .put_item()
        .table_name(&f.settings.audit_table)
        .set_item(Some(altered))
        .send()
        .await
        .expect("put seal");
    assert_fails(
        &f,
        "alter the table's copy of a seal",
        "seal altered: the seal of",
    );
}

/// EventBridge's scheduled event, as AWS documents it
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html>; the same
/// JSON is the `example-eventbridge-schedule.json` fixture of the official Rust runtime's
/// `aws_lambda_events` crate).
const SCHEDULED_EVENT: &str = r#"{
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2015-10-08T16:53:06Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"
    ],
    "detail": {}
}"#;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_event_seals_through_the_real_binary_under_a_lambda_runtime() {
    let f = unsealed_log().await;
    let mut api = common::lambda::LambdaApi::start().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otpbot"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &f.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("OTPBOT_BACKEND", "aws")
        .env("OTPBOT_ACCESS_TABLE", &f.settings.access_table)
        .env("OTPBOT_AUDIT_TABLE", &f.settings.audit_table)
        .env("OTPBOT_SSM_PREFIX", &f.settings.ssm_prefix)
        .env("OTPBOT_AUDIT_KEY", KEY_HEX)
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", common::TEAM)
        .env(
            "OTPBOT_AUDIT_BUCKET",
            f.seal.bucket.as_deref().expect("bucket"),
        )
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _function = Killed(cmd.spawn().expect("spawn the Lambda binary"));

    // Nothing sealed yet, though the records' periods closed an hour ago: sealing has
    // stopped, and the check says so rather than passing records nothing vouches for.
    assert_fails(
        &f,
        "sealing never ran",
        "records not sealed: 7 records from",
    );

    for expected in [3, 0] {
        api.events
            .send(SCHEDULED_EVENT.to_owned())
            .await
            .expect("queue");
        let answer = tokio::time::timeout(std::time::Duration::from_secs(60), api.answers.recv())
            .await
            .expect("the function answered in time")
            .expect("an answer")
            .unwrap_or_else(|e| panic!("the function reported an error: {e}"));
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        assert_eq!(answer["sealed"], expected, "{answer}");
    }
    let (ok, stdout, stderr) = verify(&f);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ok: 7 records, 3 seals"), "{stdout}");
}
