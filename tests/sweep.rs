//! The sweep's guarantees, attacked over the real router with an injected clock, the SQLite
//! store and the fake Slack Web API (`common::slack`, which records `chat.postMessage` and
//! `chat.update`): reminders, expired requests and grant expiry warnings each happen once,
//! even when two sweeps overlap or the store dies mid-sweep; every copy of a request's
//! message is updated, with or without a click; the "Request more time" button is typed.

use crate::common;

use otpbot::domain::{Action, Outcome};
use serde_json::{json, Value};

use common::approvals::request_id;
use common::slack::FakeWebApi;
use common::{Options, TestApp, ADMIN, TEAM};

/// An app that posts to `fake`, with U0BOB a second approver of `github` (no approvals
/// channel: each approver gets a copy of a request's message in a direct message).
async fn app(fake: &FakeWebApi) -> TestApp {
    let app = TestApp::spawn_with(Options {
        slack_api: Some(fake.api_url()),
        ..Options::default()
    })
    .await;
    let made = app.slash(ADMIN, "role add <@U0BOB> approver github").await;
    assert!(made.ephemeral().contains("approves"), "{}", made.raw);
    app
}

/// Alice asks for github; the id, once both copies are posted.
async fn ask(app: &TestApp) -> String {
    let id = request_id(&app.slash("U0ALICE", "request github").await.ephemeral());
    app.settled().await;
    id
}

/// The `chat.postMessage` bodies whose text holds `words`.
fn posted(fake: &FakeWebApi, words: &str) -> Vec<Value> {
    fake.bodies("chat.postMessage")
        .into_iter()
        .filter(|b| b["text"].as_str().unwrap_or_default().contains(words))
        .collect()
}

/// How many audit records have `action`.
async fn records(app: &TestApp, action: Action) -> usize {
    app.audit()
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}

/// The buttons' action ids of a posted message.
fn action_ids(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn two_overlapping_sweeps_remind_once() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    let id = ask(&app).await;
    // Before OTPBOT_REQUEST_REMIND_AFTER (15m by default), nobody is reminded.
    app.clock.advance(14 * 60);
    let early = app.state.sweep().await.expect("sweep");
    assert_eq!(early.reminded, 0, "{early:?}");
    assert!(posted(&fake, "Reminder").is_empty());

    app.clock.advance(60);
    let (a, b) = tokio::join!(app.state.sweep(), app.state.sweep());
    let (a, b) = (a.expect("sweep a"), b.expect("sweep b"));
    assert_eq!(a.reminded + b.reminded, 1, "{a:?} {b:?}");
    let reminders = posted(&fake, "Reminder");
    let mut to: Vec<&str> = reminders
        .iter()
        .filter_map(|b| b["channel"].as_str())
        .collect();
    to.sort();
    assert_eq!(to, ["D0U0BOB", "D0UADMIN"], "each approver once");
    assert!(reminders
        .iter()
        .all(|r| r["text"].as_str().unwrap_or_default().contains(&id)));
    assert!(action_ids(&reminders[0]).contains(&"otp_approve".to_owned()));
    assert_eq!(records(&app, Action::Remind).await, 1);
    // A later sweep does not remind again.
    app.clock.advance(20 * 60);
    let later = app.state.sweep().await.expect("sweep");
    assert_eq!(later.reminded, 0, "{later:?}");
    assert_eq!(posted(&fake, "Reminder").len(), 2);
}

#[tokio::test]
async fn an_expired_request_updates_every_copy_without_a_click() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    let id = ask(&app).await;
    assert_eq!(posted(&fake, &id).len(), 2, "{:?}", fake.calls());
    // OTPBOT_REQUEST_TTL is 1h by default: not expired a second before (the reminder of the
    // 15th minute goes out then, two more copies of the message).
    app.clock.advance(3_600 - 1);
    app.state.sweep().await.expect("sweep");
    assert!(fake.bodies("chat.update").is_empty());
    let mut copies: Vec<(String, String)> = fake
        .calls()
        .iter()
        .filter(|c| c.0 == "chat.postMessage")
        .filter(|c| c.2["text"].as_str().unwrap_or_default().contains(&id))
        .enumerate()
        .map(|(i, c)| {
            let channel = c.2["channel"].as_str().unwrap_or_default().to_owned();
            (channel, format!("1793700005.{:06}", 100 + i))
        })
        .collect();
    copies.sort();
    assert_eq!(
        copies.len(),
        4,
        "two asking, two reminding: {:?}",
        fake.calls()
    );
    app.clock.advance(1);
    let (a, b) = tokio::join!(app.state.sweep(), app.state.sweep());
    assert_eq!(a.expect("a").expired + b.expect("b").expired, 1);

    let updates = fake.bodies("chat.update");
    let mut updated: Vec<(String, String)> = updates
        .iter()
        .map(|u| {
            let field = |name: &str| u[name].as_str().unwrap_or_default().to_owned();
            (field("channel"), field("ts"))
        })
        .collect();
    updated.sort();
    assert_eq!(updated, copies, "every copy, once");
    for update in &updates {
        let text = update.to_string();
        assert!(text.contains("Expired undecided at"), "{text}");
        assert!(action_ids(update).is_empty(), "buttons removed: {text}");
    }
    let told = posted(&fake, "expired");
    assert_eq!(told.len(), 1, "{:?}", fake.calls());
    assert_eq!(told[0]["channel"], "D0U0ALICE");
    assert_eq!(records(&app, Action::RequestExpire).await, 1);
    // Nothing is repeated.
    app.clock.advance(600);
    app.state.sweep().await.expect("sweep");
    assert_eq!(fake.bodies("chat.update").len(), 4);
}

/// Clicks `action_id`/`value` as `user` on the message at `channel`, `ts`.
async fn click(
    app: &TestApp,
    user: &str,
    channel: &str,
    ts: &str,
    action_id: &str,
    value: &str,
) -> u16 {
    // The fields of Slack's block_actions payload
    // (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>).
    let payload = json!({
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user, "team_id": TEAM},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
        "channel": {"id": channel},
        "trigger_id": "1.2.x",
        "actions": [{"type": "button", "action_id": action_id, "value": value,
                     "text": {"type": "plain_text", "text": "x"}}]
    });
    app.post_interaction(&payload).await
}

/// The `value` of the button `action_id` on `message`.
fn value_of(message: &Value, action_id: &str) -> String {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .find(|e| e["action_id"] == action_id)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no {action_id} in {message}"))
}

#[tokio::test]
async fn a_click_on_one_copy_updates_every_copy() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    let id = ask(&app).await;
    let copies = posted(&fake, &id);
    let bobs = copies
        .iter()
        .find(|c| c["channel"] == "D0U0BOB")
        .expect("Bob's copy");
    let ts = fake
        .calls()
        .iter()
        .filter(|c| c.0 == "chat.postMessage" && c.2["channel"] == "D0U0BOB")
        .count();
    assert_eq!(ts, 1);
    // Bob's copy's ts: the fake answers each post with its own; read it back from the store.
    let stored = app
        .stores
        .sweep
        .copies(&otpbot::domain::AccessRequestId::parse(&id).expect("id"))
        .await
        .expect("copies");
    assert_eq!(stored.len(), 2, "{stored:?}");
    let bob_ts = stored
        .iter()
        .find_map(|c| match c {
            otpbot::domain::MessageRef::Slack { channel, ts } if channel == "D0U0BOB" => {
                Some(ts.clone())
            }
            _ => None,
        })
        .expect("Bob's copy recorded");
    fake.clear();
    let status = click(
        &app,
        "U0BOB",
        "D0U0BOB",
        &bob_ts,
        "otp_approve",
        &value_of(bobs, "otp_approve"),
    )
    .await;
    assert_eq!(status, 200);
    app.settled().await;
    let updates = fake.bodies("chat.update");
    let mut updated: Vec<&str> = updates
        .iter()
        .filter_map(|u| u["channel"].as_str())
        .collect();
    updated.sort();
    assert_eq!(updated, ["D0U0BOB", "D0UADMIN"], "{updates:?}");
    assert!(updates
        .iter()
        .all(|u| u.to_string().contains("Approved by")));
    // The sweep leaves a decided request alone.
    app.clock.advance(2 * 3_600);
    let swept = app.state.sweep().await.expect("sweep");
    assert_eq!((swept.reminded, swept.expired), (0, 0), "{swept:?}");
}

#[tokio::test]
async fn a_holder_is_warned_once_before_the_grant_ends() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    let granted = app.slash(ADMIN, "grant <@U0ALICE> github for 2h").await;
    assert!(granted.ephemeral().contains("until"), "{}", granted.raw);
    // OTPBOT_GRANT_EXPIRY_NOTICE is 1h: nothing an hour and a minute before the end.
    app.clock.advance(59 * 60);
    assert_eq!(app.state.sweep().await.expect("sweep").warned, 0);
    app.clock.advance(60);
    let (a, b) = tokio::join!(app.state.sweep(), app.state.sweep());
    assert_eq!(a.expect("a").warned + b.expect("b").warned, 1);
    let warnings = posted(&fake, "access ends at");
    assert_eq!(warnings.len(), 1, "{:?}", fake.calls());
    assert_eq!(warnings[0]["channel"], "D0U0ALICE");
    assert_eq!(action_ids(&warnings[0]), ["otp_more_time"]);
    assert_eq!(records(&app, Action::ExpiryNotice).await, 1);
    app.clock.advance(10 * 60);
    assert_eq!(app.state.sweep().await.expect("sweep").warned, 0);

    // "Request more time" opens a request for the same tool, from the holder.
    let value = value_of(&warnings[0], "otp_more_time");
    fake.clear();
    assert_eq!(
        click(&app, "U0ALICE", "D0U0ALICE", "1.1", "otp_more_time", &value).await,
        200
    );
    app.settled().await;
    let asked = app.last_event().await;
    assert_eq!(
        (asked.action, asked.outcome, asked.actor.as_str()),
        (Action::AccessRequest, Outcome::Ok, "slack:T0TEST:U0ALICE")
    );
    assert_eq!(asked.tool.map(|t| t.to_string()).as_deref(), Some("github"));

    // A renewed grant is a new grant: its holder is warned of its own end.
    app.slash(ADMIN, "grant <@U0ALICE> github for 2h")
        .await
        .ephemeral();
    app.clock.advance(61 * 60);
    assert_eq!(app.state.sweep().await.expect("sweep").warned, 1);
}

#[tokio::test]
async fn a_crafted_more_time_button_is_refused() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    for (action_id, value) in [
        (
            "otp_more_time",
            r#"{"do":"more_time","tool":"github","for":"2w"}"#,
        ),
        (
            "otp_more_time",
            r#"{"do":"more_time","tool":"github","request":"x1"}"#,
        ),
        ("otp_more_time", r#"{"do":"more_time","tool":"../github"}"#),
        ("otp_request", r#"{"do":"more_time","tool":"github"}"#),
        (
            "otp_more_time",
            r#"{"do":"approve","request":"0123456789abcdef"}"#,
        ),
    ] {
        let before = app.audit().await.len();
        let status = click(&app, "U0ALICE", "D0U0ALICE", "1.1", action_id, value).await;
        app.settled().await;
        let opened = app
            .audit()
            .await
            .iter()
            .any(|e| e.action == Action::AccessRequest && e.outcome == Outcome::Ok);
        assert!(
            !opened,
            "{action_id} {value}: a request was opened ({status})"
        );
        assert!(app.audit().await.len() >= before);
    }
    assert!(
        posted(&fake, "asks for").is_empty(),
        "no approver was asked: {:?}",
        fake.calls()
    );
}

#[tokio::test]
async fn a_sweep_where_the_store_dies_mid_sweep_loses_nothing_and_repeats_nothing() {
    let fake = FakeWebApi::start().await;
    let app = app(&fake).await;
    for user in ["<@U0ALICE>", "<@U0CAROL>"] {
        app.slash(ADMIN, &format!("grant {user} github for 1h"))
            .await
            .ephemeral();
    }
    // The store fails the second holder's mark, as a dying disk would, mid-sweep.
    app.sql()
        .execute_batch(
            "CREATE TRIGGER dies BEFORE UPDATE OF warned_at ON grants \
             WHEN NEW.principal = 'slack:T0TEST:U0CAROL' \
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
        )
        .expect("fault");
    let first = app.state.sweep().await.expect("sweep");
    assert_eq!((first.warned, first.failed), (1, 1), "{first:?}");
    assert_eq!(posted(&fake, "access ends at").len(), 1);
    assert_eq!(
        records(&app, Action::ExpiryNotice).await,
        1,
        "no record without its mark"
    );

    app.sql().execute_batch("DROP TRIGGER dies;").expect("heal");
    let second = app.state.sweep().await.expect("sweep");
    assert_eq!((second.warned, second.failed), (1, 0), "{second:?}");
    let mut warned: Vec<String> = posted(&fake, "access ends at")
        .iter()
        .filter_map(|b| b["channel"].as_str().map(str::to_owned))
        .collect();
    warned.sort();
    assert_eq!(warned, ["D0U0ALICE", "D0U0CAROL"], "each once, none lost");
    assert_eq!(records(&app, Action::ExpiryNotice).await, 2);
}

/// `otpbot sweep` (for cron) run twice at once beside each other, on the real binary and
/// store: the holder is warned once, and the command says what it did.
#[tokio::test]
async fn two_sweep_commands_at_once_warn_a_holder_once() {
    use common::cli::{ok, Otpbot};
    let fake = FakeWebApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let otpbot = || {
        Otpbot::on_store(&data)
            .env("OTPBOT_SLACK_BOT_TOKEN", common::BOT_TOKEN)
            .env("OTPBOT_SLACK_API_URL", fake.api_url())
    };
    ok(otpbot()
        .args(["tool", "add", "github"])
        .input("JBSWY3DPEHPK3PXP\n"));
    ok(otpbot()
        .args(["grant", "slack:T0TEST:U0ALICE", "github", "--for", "30m"])
        .output());
    let run = || {
        let cmd = otpbot().arg("sweep");
        tokio::task::spawn_blocking(move || cmd.output())
    };
    let (a, b) = tokio::join!(run(), run());
    let said = [ok(a.expect("a")), ok(b.expect("b"))].join("\n");
    assert!(said.contains("warned 1"), "{said}");
    assert!(said.contains("warned 0"), "{said}");
    let warnings = posted(&fake, "access ends at");
    assert_eq!(warnings.len(), 1, "{:?}", fake.calls());
    assert_eq!(warnings[0]["channel"], "D0U0ALICE");
    let log = ok(otpbot().args(["audit", "--format", "csv"]).output());
    assert_eq!(log.matches(",expiry_notice,").count(), 1, "{log}");
}

/// On Teams, the approver's card (in the bot's 1:1 chat with them) is updated in place by the
/// Connector's "Update activity" (`PUT …/conversations/{id}/activities/{activityId}`, the id
/// the Connector answered when the card was sent) once the request expires undecided.
#[tokio::test]
async fn an_expired_teams_request_updates_its_card_without_a_click() {
    use common::teams::{card_text, Harness, ALICE_AAD};
    let h = Harness::start().await;
    assert_eq!(
        h.send_as(ALICE_AAD, "request github", "personal").await,
        200
    );
    let sent: Vec<_> = h
        .posts()
        .into_iter()
        .filter(|(path, _, _)| path == "send a:private-conversation")
        .collect();
    assert_eq!(sent.len(), 1, "the admin's card: {:?}", h.posts());
    h.app.clock.advance(3_600);
    let swept = h.app.state.sweep().await.expect("sweep");
    assert_eq!(swept.expired, 1, "{swept:?}");
    let updates: Vec<_> = h
        .posts()
        .into_iter()
        .filter(|(path, _, _)| path.starts_with("update "))
        .collect();
    assert_eq!(updates.len(), 1, "{:?}", h.posts());
    assert_eq!(updates[0].0, "update a:private-conversation s1");
    let text = card_text(&updates[0].2);
    assert!(text.contains("Expired undecided at"), "{text}");
    assert!(
        !updates[0].2.to_string().contains("Action.Execute"),
        "no buttons left"
    );
}

/// On Teams no activity hands the sweep a service URL or names the bot: it writes through the
/// configured service URL (`OTPBOT_TEAMS_SERVICE_URL`) as the bot itself (`28:` and the app
/// id, as Teams names bots in activities), so a holder is warned in a personal chat opened for
/// them, once, with "Request more time" (Bot Connector "Create conversation":
/// <https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#create-conversation>).
#[tokio::test]
async fn a_teams_holder_is_warned_in_a_personal_chat_the_sweep_opens() {
    use common::teams::{card_text, teams_user, Harness, ALICE_AAD, APP_ID, TENANT};
    use otpbot::domain::{Grant, Person, Principal, ToolName};
    let h = Harness::start().await;
    let alice = teams_user(ALICE_AAD);
    let now = h.app.now();
    let grant = Grant {
        person: Person::from(&alice),
        principal: alice,
        tool: ToolName::parse("github").expect("tool"),
        granted_by: Principal::parse("cli:local:ops").expect("operator"),
        granted_at: now,
        expires_at: now.plus_secs(2 * 3_600),
        reason: None,
    };
    h.app.stores.put_grant(&grant).await.expect("grant");
    h.app.clock.advance(61 * 60);
    let (a, b) = tokio::join!(h.app.state.sweep(), h.app.state.sweep());
    assert_eq!(a.expect("a").warned + b.expect("b").warned, 1);
    let posts = h.posts();
    let created: Vec<_> = posts.iter().filter(|(p, _, _)| p == "create").collect();
    assert_eq!(created.len(), 1, "{posts:?}");
    let body = &created[0].2;
    assert_eq!(body["bot"]["id"], format!("28:{APP_ID}"));
    assert_eq!(body["members"][0]["id"], ALICE_AAD);
    assert_eq!(body["tenantId"], TENANT);
    let sent: Vec<_> = posts
        .iter()
        .filter(|(p, _, _)| p == "send a:private-conversation")
        .collect();
    assert_eq!(sent.len(), 1, "{posts:?}");
    let text = card_text(&sent[0].2);
    assert!(text.contains("access ends at"), "{text}");
    assert!(
        sent[0].2.to_string().contains("otp.more_time"),
        "Request more time: {}",
        sent[0].2
    );
}
