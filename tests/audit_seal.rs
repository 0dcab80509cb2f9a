//! Sealed audit periods on the AWS backend, against a real local DynamoDB + S3 + KMS emulator
//! with Object Lock: sealing (each seal with a checkpoint signed by an `ECC_NIST_P256` KMS key),
//! `otpbot audit verify` (the real binary) on an untouched log, each kind of tampering caught
//! with its message and a non-zero exit, and the bucket's records checked by an outsider with
//! the public key alone.

use crate::common;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule,
};
use common::aws::{self, Moto};
use common::cli::Otpbot;
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
    /// The KMS key that signs checkpoints, once made.
    kms_key: Option<String>,
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

/// Makes a bucket with Object Lock in `mode` (the Terraform module's is compliance mode).
async fn bucket_locked_in(s3: &aws_sdk_s3::Client, name: &str, mode: ObjectLockRetentionMode) {
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("create bucket");
    let rule = ObjectLockRule::builder()
        .default_retention(DefaultRetention::builder().mode(mode).days(1).build())
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
    unsealed_log_in(ObjectLockRetentionMode::Compliance).await
}

/// [`unsealed_log`] in a bucket locked in `mode`.
async fn unsealed_log_in(mode: ObjectLockRetentionMode) -> Fixture {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let bucket = format!("seals-{:016x}", rand::random::<u64>());
    bucket_locked_in(&s3, &bucket, mode).await;
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
        kms_key: None,
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
    let out = otpbot_on(f).args(["audit", "verify"]).args(args).output();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The real binary on the fixture's AWS backend, as an operator or auditor runs it.
fn otpbot_on(f: &Fixture) -> Otpbot {
    let cmd = Otpbot::new()
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
        );
    match &f.kms_key {
        Some(key) => cmd.env("OTPBOT_CHECKPOINT_KMS_KEY", key),
        None => cmd,
    }
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
            otpbot::audit::jsonl::jsonl(&f.events[5..6])
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
    let mut f = unsealed_log().await;
    let (_, signing) = signing_key(&f).await;
    f.kms_key = Some(signing.clone());
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut api = common::lambda::LambdaApi::start().await;
    let mut cmd = Otpbot::new()
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
        .env("OTPBOT_CHECKPOINT_KMS_KEY", &signing)
        .command();
    cmd.stdout(std::process::Stdio::null())
        .stderr(log.reopen().expect("log"));
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

    // The run published the newest seal's checkpoint as a structured log line, which an
    // auditor's log server keeps; the log itself serves as the checkpoint file.
    let lines = std::fs::read_to_string(log.path()).expect("log");
    let published: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("\"audit checkpoint\""))
        .collect();
    assert_eq!(published.len(), 1, "{lines}");
    let line: serde_json::Value = serde_json::from_str(published[0]).expect("a JSON log line");
    assert_eq!(line["records"], 7, "{line}");
    let (ok, stdout, stderr) =
        verify_with(&f, &["--checkpoint", log.path().to_str().expect("path")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("extends the checkpoint given"), "{stdout}");
}

// ---- Checkpoints signed by KMS, and what they let an outsider catch. ----

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use otpbot::audit::checkpoint::{Checkpoint, PublicKey};
use otpbot::store::aws::kms::KmsSigner;

/// An asymmetric KMS key as the Terraform module declares it: `ECC_NIST_P256`, `SIGN_VERIFY`
/// (CreateKey: <https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html>).
async fn signing_key(f: &Fixture) -> (aws_sdk_kms::Client, String) {
    let kms = aws_sdk_kms::Client::new(&f.moto.sdk_config().await);
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("otpbot checkpoints (test)")
        .send()
        .await
        .expect("create key");
    let arn = created
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_owned();
    (kms, arn)
}

/// [`unsealed_log_in`] sealed by the library with a KMS signer, as the scheduled run does.
async fn signed_log_in(mode: ObjectLockRetentionMode) -> (Fixture, aws_sdk_kms::Client) {
    let mut f = unsealed_log_in(mode).await;
    let (kms, arn) = signing_key(&f).await;
    let signer = KmsSigner::new(kms.clone(), arn.clone());
    let sealed = f
        .store
        .seal_closed_periods(&f.s3, &key(), &f.seal, SystemClock.now(), Some(&signer))
        .await
        .expect("seal");
    assert_eq!(sealed.len(), 3, "{sealed:?}");
    assert!(sealed.iter().all(|(_, c)| c.is_some()), "each seal signed");
    f.kms_key = Some(arn);
    (f, kms)
}

/// The first version of every object under `prefix`, oldest key first.
async fn first_versions(f: &Fixture, prefix: &str) -> Vec<(String, String)> {
    let bucket = f.seal.bucket.as_deref().expect("bucket");
    let listed =
        f.s3.list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list versions");
    let mut first = std::collections::BTreeMap::new();
    for v in listed.versions() {
        // Newest first per key: the last one listed is the first written.
        first.insert(
            v.key().expect("key").to_owned(),
            v.version_id().expect("version").to_owned(),
        );
    }
    let mut out = Vec::new();
    for (key, version) in first {
        let object =
            f.s3.get_object()
                .bucket(bucket)
                .key(&key)
                .version_id(&version)
                .send()
                .await
                .expect("get");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        out.push((key, String::from_utf8(bytes.to_vec()).expect("utf-8")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_seal_carries_a_kms_signed_checkpoint_anyone_can_check() {
    let (f, kms) = signed_log_in(ObjectLockRetentionMode::Compliance).await;
    let checkpoints = first_versions(&f, "audit/checkpoints/").await;
    assert_eq!(checkpoints.len(), 3, "one checkpoint object per seal");
    let newest: Checkpoint = serde_json::from_str(&checkpoints[2].1)
        .ok()
        .and_then(|v| Checkpoint::from_json(&v))
        .expect("a checkpoint");
    assert_eq!(newest.records, 7, "the seals hold 7 records");
    assert_eq!(newest.algorithm.as_str(), "ecdsa-p256-sha256");

    // KMS itself (the emulator's own ECDSA, not ours) says the signature is its key's.
    let verified = kms
        .verify()
        .key_id(f.kms_key.as_deref().expect("key"))
        .message(Blob::new(Checkpoint::signed_bytes(
            newest.records,
            &newest.head,
            newest.time,
            &newest.key_id,
            newest.algorithm,
        )))
        .message_type(MessageType::Raw)
        .signature(Blob::new(newest.signature.clone()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect("KMS Verify");
    assert!(verified.signature_valid(), "KMS accepts the signature");

    // The public key as the operator prints it checks the checkpoint without KMS.
    let pem = otpbot_on(&f).args(["audit", "public-key"]).ok();
    let public = PublicKey::from_pem(&pem).expect("PEM");
    assert!(newest.genuine(&public), "{pem}");
    let mut forged = newest.clone();
    forged.records = 5;
    assert!(
        !forged.genuine(&public),
        "a changed count breaks the signature"
    );

    let printed = otpbot_on(&f).args(["audit", "checkpoint"]).ok();
    let printed: Checkpoint = serde_json::from_str(&printed)
        .ok()
        .and_then(|v| Checkpoint::from_json(&v))
        .expect("a checkpoint");
    assert_eq!((printed.records, &printed.head), (7, &newest.head));

    let (ok, stdout, stderr) = verify(&f);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("ok: 7 records, 3 seals") && !stdout.contains("not checked: no public"),
        "the seals' checkpoints were checked: {stdout}"
    );
}

/// An outsider is handed the bucket's records objects (one after another), its checkpoint
/// objects and the public key: no AWS access, no audit key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_checks_the_buckets_records_against_its_checkpoints() {
    let (f, _) = signed_log_in(ObjectLockRetentionMode::Compliance).await;
    let auditor = tempfile::tempdir().expect("tempdir");
    let records: String = first_versions(&f, "audit/records/")
        .await
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    let export = auditor.path().join("records.jsonl");
    std::fs::write(&export, &records).expect("export");
    let mut checkpoint_files = Vec::new();
    for (i, (_, text)) in first_versions(&f, "audit/checkpoints/")
        .await
        .into_iter()
        .enumerate()
    {
        let path = auditor.path().join(format!("checkpoint-{i}.json"));
        std::fs::write(&path, text).expect("checkpoint");
        checkpoint_files.push(path);
    }
    let pem = auditor.path().join("otpbot.pem");
    std::fs::write(&pem, otpbot_on(&f).args(["audit", "public-key"]).ok()).expect("pem");
    let check = |export: &std::path::Path| {
        Otpbot::new()
            .cwd(auditor.path())
            .args(["audit", "verify", "--export"])
            .arg(export)
            .arg("--public-key")
            .arg(&pem)
            .arg("--checkpoint")
            .args(&checkpoint_files)
            .output()
    };
    let out = check(&export);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("ok: 7 records") && said.contains("extends all 3 checkpoints given"),
        "{said}"
    );

    let altered = records.replacen("slack:T0DEMO:U3", "slack:T0DEMO:UMALLORY", 1);
    assert_ne!(altered, records);
    let forged = auditor.path().join("altered.jsonl");
    std::fs::write(&forged, altered).expect("write");
    let out = check(&forged);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("history rewritten: the log's first 5 records"),
        "{said}"
    );
}

/// Every record and seal item deleted from the table: the locked seals still name them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_every_audit_item_from_the_table_is_caught() {
    let (f, _) = signed_log_in(ObjectLockRetentionMode::Compliance).await;
    for stream in ["events", "seals"] {
        let items = f
            .store
            .dynamodb()
            .query()
            .table_name(&f.settings.audit_table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(stream.into()))
            .send()
            .await
            .expect("query");
        for item in items.items() {
            let key = HashMap::from([
                ("stream".to_owned(), item["stream"].clone()),
                ("id".to_owned(), item["id"].clone()),
            ]);
            f.store
                .dynamodb()
                .delete_item()
                .table_name(&f.settings.audit_table)
                .set_key(Some(key))
                .send()
                .await
                .expect("delete");
        }
    }
    assert_fails(
        &f,
        "every item deleted",
        "seal missing: the seal of the period",
    );
}

/// Deletes every version of `key` as someone allowed to bypass governance-mode retention.
async fn purge(f: &Fixture, key: &str) {
    let bucket = f.seal.bucket.as_deref().expect("bucket");
    let listed =
        f.s3.list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .expect("list");
    for v in listed.versions() {
        f.s3.delete_object()
            .bucket(bucket)
            .key(key)
            .version_id(v.version_id().expect("version"))
            .bypass_governance_retention(true)
            .send()
            .await
            .expect("delete version");
    }
}

/// In a bucket whose lock an attacker may bypass (governance mode, not the module's
/// compliance mode), the newest seal is removed everywhere: its objects, its table item, its
/// records. What is left checks out on its own; the checkpoint held outside does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_tail_of_seals_is_caught_by_a_held_checkpoint() {
    let (f, _) = signed_log_in(ObjectLockRetentionMode::Governance).await;
    let held = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(
        held.path(),
        otpbot_on(&f).args(["audit", "checkpoint"]).ok(),
    )
    .expect("held checkpoint");
    let start = Timestamp::from_unix(f.events[3].at.unix() / PERIOD * PERIOD + PERIOD);
    for key in [
        f.seal.records_key(start),
        f.seal.seal_key(start),
        f.seal.checkpoint_key(start),
    ] {
        purge(&f, &key).await;
    }
    let mut doomed = vec![seal_key(&f, 2), record_key(&f, 5), record_key(&f, 6)];
    doomed.push(record_key(&f, 7));
    for key in doomed {
        f.store
            .dynamodb()
            .delete_item()
            .table_name(&f.settings.audit_table)
            .set_key(Some(key))
            .send()
            .await
            .expect("delete");
    }
    let (ok, stdout, stderr) = verify(&f);
    assert!(ok, "what is left is consistent: {stderr}");
    assert!(stdout.starts_with("ok: 5 records, 2 seals"), "{stdout}");
    let held = held.path().to_str().expect("path");
    let (ok, _, stderr) = verify_with(&f, &["--checkpoint", held]);
    assert!(!ok);
    assert!(
        stderr.contains("log cut off: the checkpoint of ")
            && stderr.contains("vouches for 7 records, but the log holds only 5"),
        "{stderr}"
    );
}

/// A seal's checkpoint replaced by one signed with another key (the attacker's own KMS key):
/// genuine for that key, not for the deployment's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_checkpoint_signed_by_another_key_is_caught() {
    let (f, _) = signed_log_in(ObjectLockRetentionMode::Governance).await;
    let (kms, attackers) = signing_key(&f).await;
    let start = Timestamp::from_unix(f.events[0].at.unix() / PERIOD * PERIOD + PERIOD);
    let key = f.seal.checkpoint_key(start);
    let text = first_versions(&f, &key).await.remove(0).1;
    let genuine = serde_json::from_str(&text)
        .ok()
        .and_then(|v| Checkpoint::from_json(&v))
        .expect("checkpoint");
    let head = otpbot::audit::checkpoint::Head {
        records: genuine.records,
        head: genuine.head.clone(),
    };
    let forged = Checkpoint::sign(&head, genuine.time, &KmsSigner::new(kms, attackers))
        .await
        .expect("sign");
    purge(&f, &key).await;
    f.s3.put_object()
        .bucket(f.seal.bucket.as_deref().expect("bucket"))
        .key(&key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(forged.to_json().to_string().into_bytes().into())
        .send()
        .await
        .expect("put forged checkpoint");
    assert_fails(
        &f,
        "a seal's checkpoint re-signed with another key",
        "carries a checkpoint that is not its own or not signed by the given public key",
    );
}
