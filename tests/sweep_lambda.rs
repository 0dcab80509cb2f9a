//! The sweep on AWS: the real binary as a Lambda function under the local runtime API
//! (`common::lambda`), on DynamoDB in moto_server, invoked with EventBridge's scheduled event
//! from the sweep's own rule; its messages go to the fake Slack Web API.

use crate::common;

use std::time::Duration;

use otpbot::domain::{
    AccessRequest, AccessRequestId, Clock, Grant, GrantDuration, MessageRef, Person, Principal,
    RequestState, Seed, SystemClock, Tool, ToolName,
};
use otpbot::store::{Change, Decision, DecisionView, Effect, Stores};
use serde_json::Value;

use common::aws::{self, Moto};
use common::cli::Otpbot;
use common::slack::FakeWebApi;

/// EventBridge's scheduled event as AWS documents it
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html>, and
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html> for
/// `resources`, the ARN of the rule that fired; the same JSON is the
/// `example-eventbridge-schedule.json` fixture of the official Rust runtime's
/// `aws_lambda_events` crate), fired by the rule `rule`.
fn scheduled_event(rule: &str) -> String {
    format!(
        r#"{{
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2015-10-08T16:53:06Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:events:us-east-1:123456789012:rule/{rule}"
    ],
    "detail": {{}}
}}"#
    )
}

fn alice() -> Principal {
    Principal::parse("slack:T0TEST:U0ALICE").expect("principal")
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A store with `github`, Alice's grant ending in 30 minutes, and her request that expired
/// undecided a minute ago, its message posted to the approvals channel at `1.100`.
async fn store(moto: &Moto) -> (otpbot::store::aws::AwsSettings, Stores) {
    let settings = aws::unique_settings();
    let store = aws::store_on(moto, settings.clone()).await;
    let stores = Stores::single(store);
    let github = ToolName::parse("github").expect("name");
    let tool = Tool {
        name: github.clone(),
        display_name: "GitHub".into(),
        default_grant: GrantDuration::parse("8h").expect("d"),
        max_grant: GrantDuration::parse("1d").expect("d"),
        notify_channel: None,
        approvals_channel: Some("C0APPROVE".into()),
        rules: otpbot::domain::ToolRules::default(),
    };
    let seed = Seed::parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").expect("seed");
    let now = SystemClock.now();
    let operator = Principal::parse("cli:local:ops").expect("operator");
    stores
        .put_tool(&tool, Some(&seed), &operator, now)
        .await
        .expect("tool");
    let grant = Grant {
        principal: alice(),
        person: Person::from(&alice()),
        tool: github.clone(),
        granted_by: operator.clone(),
        granted_at: now.plus_secs(-3_600),
        expires_at: now.plus_secs(1_800),
        reason: None,
    };
    stores.put_grant(&grant).await.expect("grant");
    let id = AccessRequestId::parse("0123456789abcdef").expect("id");
    let request = AccessRequest {
        id: id.clone(),
        requester: alice(),
        requester_person: Person::from(&alice()),
        tool: github,
        duration: GrantDuration::parse("2h").expect("d"),
        reason: None,
        requested_at: now.plus_secs(-3_660),
        expires_at: now.plus_secs(-60),
        state: RequestState::Open,
        approvals_required: 1,
        approvals: Vec::new(),
        requester_name: None,
        decided_by_name: None,
    };
    let copies = vec![MessageRef::Slack {
        channel: "C0APPROVE".into(),
        ts: "1793700005.000100".into(),
    }];
    for change in [
        Change::OpenRequest(request.clone()),
        Change::AddCopies { id, copies },
    ] {
        let decision = Decision {
            now: request.requested_at,
            replay: None,
            quotas: Vec::new(),
            record: None,
            effect: Effect::Change {
                change,
                if_unchanged: None,
            },
        };
        stores
            .decisions
            .decide(&DecisionView::default(), &decision)
            .await
            .expect("stored");
    }
    (settings, stores)
}

/// The function's answer to one scheduled event of `rule`.
async fn invoke(api: &mut common::lambda::LambdaApi, rule: &str) -> Value {
    api.events.send(scheduled_event(rule)).await.expect("queue");
    let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
        .await
        .expect("the function answered in time")
        .expect("an answer")
        .unwrap_or_else(|e| panic!("the function reported an error: {e}"));
    serde_json::from_str(&answer).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeps_scheduled_event_sweeps_once_through_the_real_binary_under_a_lambda_runtime() {
    let moto = Moto::shared();
    let (settings, stores) = store(&moto).await;
    let slack = FakeWebApi::start().await;
    let mut api = common::lambda::LambdaApi::start().await;
    let mut cmd = Otpbot::new()
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("OTPBOT_BACKEND", "aws")
        .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
        .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
        .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
        .env("OTPBOT_AUDIT_KEY", "ab".repeat(32))
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", common::TEAM)
        .env("OTPBOT_SLACK_BOT_TOKEN", common::BOT_TOKEN)
        .env("OTPBOT_SLACK_API_URL", slack.api_url())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
        .command();
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _function = Killed(cmd.spawn().expect("spawn the Lambda binary"));

    let first = invoke(&mut api, "otpbot-sweep").await;
    assert_eq!(first["swept"]["warned"], 1, "{first}");
    assert_eq!(first["swept"]["expired"], 1, "{first}");
    let updates = slack.bodies("chat.update");
    assert_eq!(updates.len(), 1, "{:?}", slack.calls());
    assert_eq!(
        (&updates[0]["channel"], &updates[0]["ts"]),
        (&Value::from("C0APPROVE"), &Value::from("1793700005.000100"))
    );
    assert!(updates[0].to_string().contains("Expired undecided at"));
    let posts = slack.bodies("chat.postMessage");
    let to_alice: Vec<&Value> = posts
        .iter()
        .filter(|p| p["channel"] == "D0U0ALICE")
        .collect();
    assert_eq!(
        to_alice.len(),
        2,
        "told of the expiry and warned: {posts:?}"
    );

    // The next scheduled run finds nothing left to do.
    let second = invoke(&mut api, "otpbot-sweep").await;
    assert_eq!(
        (&second["swept"]["warned"], &second["swept"]["expired"]),
        (&Value::from(0), &Value::from(0)),
        "{second}"
    );
    assert_eq!(slack.bodies("chat.postMessage").len(), posts.len());
    let query = otpbot::domain::AuditQuery {
        limit: 100,
        ..Default::default()
    };
    let events = stores.audit.query(&query).await.expect("audit").events;
    let count = |action| events.iter().filter(|e| e.action == action).count();
    assert_eq!(
        (
            count(otpbot::domain::Action::ExpiryNotice),
            count(otpbot::domain::Action::RequestExpire)
        ),
        (1, 1)
    );
}
