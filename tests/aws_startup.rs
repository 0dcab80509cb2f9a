//! What the AWS backend does at start-up, against the emulator: every secret setting in one
//! SSM `GetParameters` call (up to 10 names:
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html>),
//! the DynamoDB connection opened alongside it, no settings read after it, and a limit too
//! large for the one DynamoDB item its times live in refused before anything runs.

use crate::common;

use std::collections::HashMap;

use common::aws;
use otpbot::config::Settings;
use otpbot::startup::{App, Patience};
use secrecy::ExposeSecret;

fn names(prefix: &str, which: &[&str]) -> Vec<String> {
    which.iter().map(|n| format!("{prefix}/{n}")).collect()
}

/// One `GetParameters` reads them all; later reads of them call SSM no more, and a name SSM
/// does not have is known absent without another call.
#[tokio::test]
async fn secret_settings_are_read_in_one_call_and_never_again() {
    let moto = aws::Moto::shared();
    let log = aws::CallLog::default();
    let settings = aws::unique_settings();
    let store = aws::counted_store_on(&moto, settings.clone(), &log).await;
    let prefix = &settings.ssm_prefix;
    aws::put_secret(&store, format!("{prefix}/slack/signing-secret"), "s3cret").await;
    aws::put_secret(&store, format!("{prefix}/audit/hmac-key"), &"ab".repeat(32)).await;
    log.take();
    let wanted = names(
        prefix,
        &["slack/signing-secret", "audit/hmac-key", "slack/bot-token"],
    );
    store.start_up(&wanted).await.expect("start-up");
    let secret = store.parameter(&wanted[0]).await.expect("read");
    let key = store.parameter(&wanted[1]).await.expect("read");
    let token = store.parameter(&wanted[2]).await.expect("read");
    assert_eq!(
        secret.map(|s| s.expose_secret().to_owned()).as_deref(),
        Some("s3cret")
    );
    assert!(key.is_some());
    assert!(token.is_none(), "no bot token was written");
    let calls = log.take();
    let ssm: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("AmazonSSM"))
        .collect();
    assert_eq!(ssm, ["AmazonSSM.GetParameters"], "{calls:?}");
    assert!(
        calls.contains(&"DynamoDB_20120810.Query".to_owned()),
        "the DynamoDB connection is opened at start-up: {calls:?}"
    );
}

/// More than ten secret settings take one call per ten.
#[tokio::test]
async fn more_than_ten_names_take_one_call_per_ten() {
    let moto = aws::Moto::shared();
    let log = aws::CallLog::default();
    let settings = aws::unique_settings();
    let store = aws::counted_store_on(&moto, settings.clone(), &log).await;
    let wanted: Vec<String> = (0..12)
        .map(|i| format!("{}/extra/{i}", settings.ssm_prefix))
        .collect();
    store.start_up(&wanted).await.expect("start-up");
    let gets = log
        .take()
        .iter()
        .filter(|c| *c == "AmazonSSM.GetParameters")
        .count();
    assert_eq!(gets, 2);
}

fn vars(settings: &otpbot::store::aws::AwsSettings, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("OTPBOT_BACKEND", "aws"),
        ("OTPBOT_ACCESS_TABLE", settings.access_table.as_str()),
        ("OTPBOT_AUDIT_TABLE", settings.audit_table.as_str()),
        ("OTPBOT_SSM_PREFIX", settings.ssm_prefix.as_str()),
        ("OTPBOT_SLACK_TEAM_IDS", "T0TEST"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_vars(vars).expect("settings")
}

/// A per-tool or per-caller limit whose admitted times could outgrow a DynamoDB item is refused
/// at start-up, before any AWS call, with the setting named.
#[tokio::test]
async fn a_limit_too_large_for_a_dynamodb_item_is_refused_at_start_up() {
    let settings = aws::unique_settings();
    for setting in ["OTPBOT_RATE_PER_TOOL", "OTPBOT_RATE_PER_CALLER"] {
        let mut s = vars(&settings, &[(setting, "1000000/1m")]);
        let policy = s.policy();
        let err = match App::open(&mut s, policy, Patience::Chat).await {
            Ok(_) => panic!("{setting} of 1,000,000 was accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(setting), "{err}");
        assert!(err.contains("DynamoDB item"), "{err}");
    }
}
