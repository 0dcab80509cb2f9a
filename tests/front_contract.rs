//! The front-end contract's own promises, which every platform relies on: what follows a reply
//! goes only to the platform it is addressed to, after the answer and counted until it ends;
//! the caller hears of undelivered notices only when none arrived; only a settled request's
//! message replaces the one clicked; and what otpbot posts on its own reaches the platform its
//! channel is on, or nowhere. The platform side here is a recorder of the calls the contract
//! makes (`front::Deliver` is otpbot's own trait); Slack's and Teams' implementations are
//! tested against fakes of their APIs in `slack_notices.rs` and `teams_approvals.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use otpbot::domain::{AccessRequestId, Platform, Principal, RequestId};
use otpbot::front::{follow_up, Background, Deliver, DeliveryError, Outbox};
use otpbot::reply::{ApprovalMessage, Audience, FollowUps, Notice, Reply};
use serde_json::{json, Value};

/// One platform's way out that records what it was asked to do, and fails notices to the
/// channels in `unreachable`.
#[derive(Clone)]
struct Recorder {
    platform: Platform,
    calls: Arc<Mutex<Vec<String>>>,
    unreachable: Vec<String>,
}

impl Recorder {
    fn new(platform: Platform) -> Self {
        Self {
            platform,
            calls: Arc::default(),
            unreachable: Vec::new(),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().expect("calls").push(call);
    }
}

#[async_trait]
impl Deliver for Recorder {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn render(&self, reply: &Reply) -> Value {
        json!({ "lines": reply.lines })
    }

    async fn notice(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let to = match &notice.to {
            Audience::Channel(channel) => channel.clone(),
            Audience::Person(person) => person.to_string(),
        };
        if self.unreachable.contains(&to) {
            return Err(DeliveryError::new("unreachable"));
        }
        self.record(format!("notice {to}"));
        Ok(())
    }

    async fn late_answer(&self) -> Result<(), DeliveryError> {
        self.record("answer".into());
        Ok(())
    }

    async fn replace_clicked(&self, message: &ApprovalMessage) -> Result<(), DeliveryError> {
        self.record(format!("replace {}", message.lines.join(" / ")));
        Ok(())
    }

    async fn tell_caller(&self, words: &str) -> Result<(), DeliveryError> {
        self.record(format!("tell {words}"));
        Ok(())
    }
}

fn to_channel(channel: &str) -> Notice {
    Notice {
        to: Audience::Channel(channel.into()),
        lines: vec![format!("for {channel}")],
        buttons: Vec::new(),
    }
}

fn to_person(principal: &str) -> Notice {
    Notice {
        to: Audience::Person(Principal::parse(principal).expect("principal")),
        lines: vec![format!("for {principal}")],
        buttons: Vec::new(),
    }
}

fn message(settled: bool) -> ApprovalMessage {
    ApprovalMessage {
        request: AccessRequestId::parse("0123456789abcdef").expect("id"),
        lines: vec![if settled { "Approved" } else { "Still open" }.into()],
        buttons: Vec::new(),
        settled,
    }
}

/// Sends `follow_ups` along `out` as a front end does, and waits until they are all out.
async fn sent(out: &Recorder, follow_ups: FollowUps) -> Vec<String> {
    let background = Background::default();
    follow_up(&background, out.clone(), RequestId::new(), follow_ups);
    assert!(
        background.idle_within(Duration::from_secs(5)).await,
        "follow-ups still running"
    );
    out.calls()
}

#[tokio::test]
async fn follow_ups_reach_only_the_platform_they_are_addressed_to() {
    let slack = Recorder::new(Platform::Slack);
    let follow_ups = FollowUps {
        notices: vec![
            to_channel("C0APPROVALS"),
            to_channel("19:approvals@thread.tacv2"),
            to_person("slack:T1:U0APPROVER"),
            to_person("teams:00000000-0000-0000-0000-000000000001:aad-1"),
        ],
        ..FollowUps::default()
    };
    let mut calls = sent(&slack, follow_ups).await;
    calls.sort();
    assert_eq!(
        calls,
        ["answer", "notice C0APPROVALS", "notice slack:T1:U0APPROVER"]
    );
}

#[tokio::test]
async fn the_caller_hears_of_undelivered_notices_only_when_none_arrived() {
    let told = "No approver could be told";
    let follow_ups = || FollowUps {
        notices: vec![to_channel("C0ONE"), to_channel("C0TWO")],
        if_undelivered: Some(told.into()),
        ..FollowUps::default()
    };
    let mut one_down = Recorder::new(Platform::Slack);
    one_down.unreachable = vec!["C0ONE".into()];
    let calls = sent(&one_down, follow_ups()).await;
    assert!(
        !calls.iter().any(|c| c.starts_with("tell")),
        "one notice arrived, yet the caller was told none did: {calls:?}"
    );
    let mut all_down = Recorder::new(Platform::Slack);
    all_down.unreachable = vec!["C0ONE".into(), "C0TWO".into()];
    let calls = sent(&all_down, follow_ups()).await;
    assert_eq!(
        calls.last().map(String::as_str),
        Some(&*format!("tell {told}"))
    );
    // Notices for another platform are that platform's to deliver: not a failure here.
    let elsewhere = FollowUps {
        notices: vec![to_channel("19:approvals@thread.tacv2")],
        if_undelivered: Some(told.into()),
        ..FollowUps::default()
    };
    let calls = sent(&Recorder::new(Platform::Teams), elsewhere).await;
    assert!(
        calls.contains(&"notice 19:approvals@thread.tacv2".to_owned()),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("tell")), "{calls:?}");
}

#[tokio::test]
async fn only_a_settled_request_message_replaces_the_one_clicked() {
    let slack = Recorder::new(Platform::Slack);
    let open = FollowUps {
        approval_message: Some(message(false)),
        ..FollowUps::default()
    };
    assert_eq!(sent(&slack, open).await, ["answer"]);
    let slack = Recorder::new(Platform::Slack);
    let settled = FollowUps {
        approval_message: Some(message(true)),
        ..FollowUps::default()
    };
    // The caller's own answer comes first, then the message everyone sees.
    assert_eq!(sent(&slack, settled).await, ["answer", "replace Approved"]);
}

#[tokio::test]
async fn follow_ups_are_counted_until_they_end() {
    /// A platform that takes its time.
    struct Slow(tokio::sync::oneshot::Receiver<()>);
    let (release, wait) = tokio::sync::oneshot::channel();
    let gate = Arc::new(Mutex::new(Some(Slow(wait))));
    #[derive(Clone)]
    struct Gated(Arc<Mutex<Option<Slow>>>);
    #[async_trait]
    impl Deliver for Gated {
        fn platform(&self) -> Platform {
            Platform::Slack
        }
        fn render(&self, _: &Reply) -> Value {
            Value::Null
        }
        async fn notice(&self, _: &Notice) -> Result<(), DeliveryError> {
            let slow = self.0.lock().expect("gate").take();
            if let Some(Slow(wait)) = slow {
                let _ = wait.await;
            }
            Ok(())
        }
    }
    let background = Background::default();
    let follow_ups = FollowUps {
        notices: vec![to_channel("C0SLOW")],
        ..FollowUps::default()
    };
    follow_up(&background, Gated(gate), RequestId::new(), follow_ups);
    assert_eq!(background.running(), 1);
    assert!(
        !background.idle_within(Duration::from_millis(50)).await,
        "a follow-up still on its way was not counted"
    );
    release.send(()).expect("release");
    assert!(background.idle_within(Duration::from_secs(5)).await);
    assert_eq!(background.running(), 0);
}

#[tokio::test]
async fn what_otpbot_posts_on_its_own_reaches_the_channels_platform_or_nowhere() {
    let (slack, teams) = (
        Recorder::new(Platform::Slack),
        Recorder::new(Platform::Teams),
    );
    let outbox = Outbox::default()
        .with(Arc::new(slack.clone()))
        .with(Arc::new(teams.clone()));
    outbox
        .post(&to_channel("19:audit@thread.tacv2"))
        .await
        .expect("posted in Teams");
    outbox
        .post(&to_channel("C0AUDIT"))
        .await
        .expect("posted in Slack");
    assert_eq!(teams.calls(), ["notice 19:audit@thread.tacv2"]);
    assert_eq!(slack.calls(), ["notice C0AUDIT"]);
    // Without a way to Teams, a Teams channel is refused, never posted to another platform.
    let slack_only = Recorder::new(Platform::Slack);
    let outbox = Outbox::default().with(Arc::new(slack_only.clone()));
    assert!(outbox
        .post(&to_channel("19:audit@thread.tacv2"))
        .await
        .is_err());
    assert!(outbox.post(&to_channel("not-a-channel id")).await.is_err());
    assert!(slack_only.calls().is_empty());
}
