//! Cold start of the Lambda binary: how long from starting the process to the answer to its
//! first invocation, under a local Lambda runtime API, on the AWS backend against the emulator.
//!
//! `cargo bench --bench lambda_start` measures the binary cargo builds for the bench (all
//! features). `OTPBOT_BIN=/path/to/otpbot cargo bench --bench lambda_start` measures another
//! build of it, e.g. one made with `cargo build --release --no-default-features`, so two builds
//! are compared on the same machine in one sitting. Needs `.venv/bin/moto_server`.
//!
//! Each round starts the binary as the Lambda service would (the `AWS_LAMBDA_*` variables of the
//! runtime environment: <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>),
//! queues one API Gateway HTTP API event for `GET /healthz` (payload format 2.0:
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>)
//! and waits for its response. Init includes loading the AWS configuration and reading the
//! signing secret and audit key from SSM, as in production. Prints the binary's size and the
//! median and 90th percentile; asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::aws::{self, Moto};
use serde_json::json;

const ROUNDS: usize = 15;

fn healthz_event() -> String {
    json!({
        "version": "2.0",
        "routeKey": "GET /healthz",
        "rawPath": "/healthz",
        "rawQueryString": "",
        "headers": { "host": "abc123.execute-api.us-east-1.amazonaws.com" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": { "method": "GET", "path": "/healthz", "protocol": "HTTP/1.1",
                      "sourceIp": "3.3.3.3", "userAgent": "bench" },
            "requestId": "req-1",
            "routeKey": "GET /healthz",
            "stage": "$default",
            "time": "03/Nov/2026:10:00:05 +0000",
            "timeEpoch": 1_793_700_005_000u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let binary = std::env::var_os("OTPBOT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_otpbot")));
    let size = std::fs::metadata(&binary)
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
        .len();
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    aws::put_secret(
        &store,
        format!("{}/audit/hmac-key", settings.ssm_prefix),
        &"cd".repeat(32),
    )
    .await;
    aws::put_secret(
        &store,
        format!("{}/slack/signing-secret", settings.ssm_prefix),
        common::SECRET,
    )
    .await;
    let dir = tempfile::tempdir().expect("an empty working directory");

    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let mut api = common::lambda::LambdaApi::start().await;
        api.events.send(healthz_event()).await.expect("queue");
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("OTPBOT_BACKEND", "aws")
            .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
            .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
            .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
            .env("OTPBOT_SLACK_TEAM_IDS", common::TEAM)
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary");
        let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
            .await
            .expect("an answer in time")
            .expect("the runtime API is up")
            .unwrap_or_else(|e| panic!("the function failed: {e}"));
        times.push(started.elapsed());
        assert!(answer.contains("\"statusCode\":200"), "{answer}");
        child.kill().ok();
        child.wait().ok();
    }
    times.sort();
    println!("binary: {} ({:.1} MB)", binary.display(), size as f64 / 1e6);
    println!(
        "start to first answer over {ROUNDS} cold starts: median {:.1} ms, p90 {:.1} ms, min {:.1} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}
