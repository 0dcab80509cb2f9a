//! Hostile text in every rendered field, on both platforms, checked the way each platform would
//! display it.
//!
//! Users control tool display names (through whoever enrols a tool), grant reasons, and the
//! words of a request that are echoed back. Each of them is filled with link, mention, special,
//! Markdown and bidirectional-control syntax; real commands run through the engine; the replies
//! are rendered for Slack and Teams and then read back as each platform would:
//!
//! - Slack mrkdwn: everything between `<` and `>` is a control sequence (mention, special,
//!   link) and `&lt;`/`&gt;`/`&amp;` show as `<`/`>`/`&` (Slack "Formatting text for app
//!   surfaces": "Escaping text"). The only control sequences allowed are otpbot's own mentions.
//! - Teams TextBlock Markdown is a CommonMark subset (Adaptive Cards "Text features"), so a
//!   CommonMark parser (pulldown-cmark) tells what Teams would turn into links, emphasis, lists
//!   or headings: none may appear, and the text shown must equal what was typed.

use crate::common;

use std::sync::Arc;

use otpbot::domain::{Clock, Platform, Principal, RequestId};
use otpbot::engine::{ChatRequest, Engine, Policy};
use otpbot::reply::Reply;
use pulldown_cmark::{Event, Parser, Tag};
use serde_json::Value;

use common::{TestApp, TEAM};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const TEAMS_ADMIN: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const TEAMS_BOB: &str = "bbbbbbbb-0000-0000-0000-000000000002";

/// Link, mention, special, emphasis, list and heading syntax, plus bidirectional and control
/// characters that would reorder or hide text. (Control characters in a command are refused by
/// the command parser before anything is stored, so the reason carries only format characters.)
const HOSTILE_NAME: &str = "- [click](https://evil.example) <!channel> <@U0EVIL> **bold** _it_ &amp; \u{202E}exe.txt\u{2066}\u{7} # h";
const HOSTILE_REASON: &str =
    "<!here> <@U0EVIL|boss> [x](https://evil.example) *b* ~s~ `c` \u{200F}\u{2067}red";

/// The reason as stored: the command parser drops backticks from free text.
fn reason_shown() -> String {
    shown(HOSTILE_REASON).replace('`', "")
}

/// What a hostile string looks like once invisible and control characters are removed.
fn shown(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn slack(user: &str) -> Principal {
    Principal::new(Platform::Slack, TEAM, user).expect("principal")
}

fn teams(user: &str) -> Principal {
    Principal::new(Platform::Teams, TENANT, user).expect("principal")
}

struct Bench {
    app: TestApp,
    engine: Engine,
}

impl Bench {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        app.enrol("github", HOSTILE_NAME, "8h", "1w").await;
        let mut policy = Policy::default();
        policy.bootstrap_admins.insert(slack(common::ADMIN));
        policy.bootstrap_admins.insert(teams(TEAMS_ADMIN));
        let engine = Engine::new(
            app.stores.clone(),
            Arc::new(app.clock.clone()),
            app.audit_key.clone(),
            policy,
        );
        Self { app, engine }
    }

    async fn ask(&self, who: Principal, text: &str) -> Reply {
        self.engine
            .handle(&ChatRequest {
                request_id: RequestId::new(),
                person: otpbot::domain::Person::from(&who),
                reaches_others: true,
                principal: who,
                channel: Some("C0TEST".into()),
                text: text.into(),
                delivery: None,
                name: None,
            })
            .await
    }

    /// Every reply that shows one of the hostile fields, asked from `platform`.
    async fn replies(&self, platform: Platform) -> Vec<(&'static str, Reply)> {
        let (admin, bob, carol) = match platform {
            Platform::Slack => (slack(common::ADMIN), slack("UBOB"), slack("UCAROL")),
            _ => (
                teams(TEAMS_ADMIN),
                teams(TEAMS_BOB),
                teams("cccccccc-0000-0000-0000-000000000003"),
            ),
        };
        let mention = format!("<@{}>", bob.user());
        let mut out = vec![
            (
                "grant",
                self.ask(
                    admin.clone(),
                    &format!("grant {mention} github for 1h {HOSTILE_REASON}"),
                )
                .await,
            ),
            ("code", self.ask(bob.clone(), "github").await),
            ("who", self.ask(admin.clone(), "who github").await),
            ("audit", self.ask(admin.clone(), "audit github").await),
            ("tools", self.ask(admin.clone(), "tools").await),
            ("no access", self.ask(carol.clone(), "github").await),
            (
                "echoed request",
                self.ask(bob.clone(), "list <!channel>[x](https://evil.example)")
                    .await,
            ),
        ];
        self.app.clock.advance(1);
        out.push(("help", self.ask(bob, "help").await));
        out
    }
}

/// Slack's reading of mrkdwn: the control sequences (`<…>`) and the text shown.
fn slack_read(mrkdwn: &str) -> (Vec<String>, String) {
    let mut controls = Vec::new();
    let mut shown = String::new();
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        shown.push_str(&rest[..start]);
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        controls.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    shown.push_str(rest);
    let shown = shown
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    (controls, shown)
}

/// `reply` as Slack receives it: the JSON of its Block Kit message.
fn slack_json(reply: &Reply) -> Value {
    serde_json::to_value(otpbot::slack::render::render(reply)).expect("a message serialises")
}

/// Every mrkdwn string of a Slack response, with where it sits.
fn slack_texts(json: &Value) -> Vec<(String, String)> {
    let mut out = vec![(
        "text".to_owned(),
        json["text"].as_str().unwrap_or_default().to_owned(),
    )];
    for (i, block) in json["blocks"].as_array().into_iter().flatten().enumerate() {
        if let Some(t) = block["text"]["text"].as_str() {
            out.push((format!("blocks[{i}]"), t.to_owned()));
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if let Some(t) = element["text"].as_str() {
                out.push((format!("blocks[{i}].elements"), t.to_owned()));
            }
        }
    }
    out
}

/// CommonMark's reading of a TextBlock: the markup it would build and the text shown.
fn teams_read(markdown: &str) -> (Vec<String>, String) {
    let mut markup = Vec::new();
    let mut shown = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) => shown.push_str(&t),
            Event::SoftBreak | Event::HardBreak => shown.push('\n'),
            Event::Start(Tag::Paragraph) | Event::End(_) => {}
            other => markup.push(format!("{other:?}")),
        }
    }
    (markup, shown)
}

/// Every Markdown string of a Teams activity: `text` and each TextBlock.
fn teams_texts(activity: &Value) -> Vec<(String, String)> {
    let mut out = vec![(
        "text".to_owned(),
        activity["text"].as_str().unwrap_or_default().to_owned(),
    )];
    for (i, block) in activity["attachments"][0]["content"]["body"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push((
            format!("body[{i}]"),
            block["text"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    out
}

#[tokio::test]
async fn slack_shows_hostile_text_as_typed_and_pings_nobody() {
    let bench = Bench::new().await;
    let mut seen_name = false;
    let mut seen_reason = false;
    for (case, reply) in bench.replies(Platform::Slack).await {
        let json = slack_json(&reply);
        let mut all_shown = String::new();
        for (place, text) in slack_texts(&json) {
            let (controls, shown_text) = slack_read(&text);
            for control in &controls {
                assert!(
                    control == "<@UBOB>" || control == "<@UADMIN>",
                    "{case}, {place}: Slack would act on {control:?} in {text:?}"
                );
            }
            for c in ['\u{202E}', '\u{2066}', '\u{200F}', '\u{7}', '\u{1b}'] {
                assert!(!text.contains(c), "{case}, {place}: {c:?} reaches Slack");
            }
            all_shown.push_str(&shown_text);
            all_shown.push('\n');
        }
        seen_name |= all_shown.contains(&shown(HOSTILE_NAME));
        seen_reason |= all_shown.contains(&reason_shown());
    }
    assert!(seen_name, "the display name is shown as typed somewhere");
    assert!(seen_reason, "the reason is shown as typed somewhere");
}

#[tokio::test]
async fn teams_shows_hostile_text_as_typed_without_markup() {
    let bench = Bench::new().await;
    let mut seen_name = false;
    let mut seen_reason = false;
    for (case, reply) in bench.replies(Platform::Teams).await {
        let activity = otpbot::teams::render::render(&reply);
        let mut all_shown = String::new();
        for (place, text) in teams_texts(&activity) {
            let (markup, shown_text) = teams_read(&text);
            assert!(
                markup.is_empty(),
                "{case}, {place}: Teams would render {markup:?} from {text:?}"
            );
            for c in ['\u{202E}', '\u{2066}', '\u{200F}', '\u{7}', '\u{1b}'] {
                assert!(!text.contains(c), "{case}, {place}: {c:?} reaches Teams");
            }
            all_shown.push_str(&shown_text);
            all_shown.push('\n');
        }
        let summary = activity["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{case}: summary {summary:?}"
        );
        seen_name |= all_shown.contains(&shown(HOSTILE_NAME));
        seen_reason |= all_shown.contains(&reason_shown());
    }
    assert!(seen_name, "the display name is shown as typed somewhere");
    assert!(seen_reason, "the reason is shown as typed somewhere");
}

#[tokio::test]
async fn typed_mentions_and_specials_are_not_mentions_but_own_mentions_are() {
    let bench = Bench::new().await;
    let replies = bench.replies(Platform::Slack).await;
    let (_, grant) = replies.iter().find(|(c, _)| *c == "grant").expect("grant");
    let json = slack_json(grant);
    let line = json["blocks"][0]["text"]["text"].as_str().expect("line");
    assert!(line.starts_with("Granted <@UBOB> access"), "{line}");
    let (_, who) = replies.iter().find(|(c, _)| *c == "who").expect("who");
    let text = slack_texts(&slack_json(who))
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("&lt;!here&gt;"), "{text}");
    assert!(text.contains("&lt;@U0EVIL|boss&gt;"), "{text}");
    assert!(!text.contains("<@U0EVIL"), "{text}");
}

#[tokio::test]
async fn long_fields_are_capped() {
    let bench = Bench::new().await;
    let long_name = "N".repeat(5_000);
    bench.app.enrol("gitlab", &long_name, "8h", "1w").await;
    let admin = slack(common::ADMIN);
    let reason = "r".repeat(300);
    let grant = bench
        .ask(
            admin.clone(),
            &format!("grant <@UBOB> gitlab for 1h {reason}"),
        )
        .await;
    let code = bench.ask(slack("UBOB"), "gitlab").await;
    let who = bench.ask(admin, "who gitlab").await;
    let refused = bench.ask(slack("UCAROL"), "gitlab").await;
    let card = code.code.as_ref().expect("a code was issued");
    let slack_title = slack_json(&code)["blocks"][0]["text"]["text"].to_string();
    assert!(slack_title.contains(&"N".repeat(100)) && !slack_title.contains(&"N".repeat(101)));
    let teams_title = otpbot::teams::render::render(&code)["attachments"][0]["content"]["body"][0]
        ["text"]
        .to_string();
    assert!(teams_title.contains(&"N".repeat(100)) && !teams_title.contains(&"N".repeat(101)));
    assert!(!card.tool_display.is_empty());
    for reply in [&grant, &code, &who, &refused] {
        for (place, text) in slack_texts(&slack_json(reply)) {
            assert!(
                text.chars().count() <= 3_000,
                "Slack {place}: {} chars",
                text.len()
            );
            assert!(
                !text.contains(&"N".repeat(1_001)),
                "Slack {place}: line not capped"
            );
        }
        for (place, text) in teams_texts(&otpbot::teams::render::render(reply)) {
            assert!(
                text.chars().count() <= 2_100,
                "Teams {place}: {} chars",
                text.len()
            );
            assert!(
                !text.contains(&"N".repeat(1_001)),
                "Teams {place}: line not capped"
            );
        }
    }
}

/// Teams puts `text` and `summary` in notifications, the chat list and the activity feed (Bot
/// Framework `Activity.Summary`: "the text to display if the channel cannot render cards";
/// Graph `chatMessage.summary`: "used for push notifications and summary views"). Slack shows
/// the top-level `text` in notifications (`chat.postMessage`: "If attachments or blocks are
/// included, text will be used as fallback text for notifications only"). The code belongs in
/// neither, only in the card or the blocks.
#[tokio::test]
async fn the_code_is_only_inside_the_card() {
    let bench = Bench::new().await;
    for platform in [Platform::Slack, Platform::Teams] {
        let replies = bench.replies(platform).await;
        let (_, reply) = replies.iter().find(|(c, _)| *c == "code").expect("code");
        let card = reply.code.as_ref().expect("a code was issued");
        let code = card.code.expose().to_owned();
        let next = card.next.as_ref().map(|n| n.expose().to_owned());
        let ready = format!("Your {} code is ready", shown(HOSTILE_NAME));

        let slack = slack_json(reply);
        let fallback = slack["text"].as_str().expect("text");
        assert!(
            !fallback.contains(&code),
            "{platform:?}: Slack fallback {fallback:?}"
        );
        assert_eq!(slack_read(fallback).1, ready);
        assert!(slack["blocks"][0]["text"]["text"]
            .as_str()
            .expect("block")
            .contains(&code));

        let teams = otpbot::teams::render::render(reply);
        for field in ["text", "summary"] {
            let value = teams[field].as_str().expect(field);
            assert!(!value.contains(&code), "Teams {field}: {value:?}");
            if let Some(next) = &next {
                assert!(!value.contains(next), "Teams {field}: {value:?}");
            }
        }
        assert_eq!(teams["summary"], ready);
        assert_eq!(teams_read(teams["text"].as_str().expect("text")).1, ready);
        let body = teams["attachments"][0]["content"]["body"].to_string();
        assert!(body.contains(&code), "the card shows the code");
    }
}

#[tokio::test]
async fn slack_end_to_end_fallback_has_no_code() {
    let bench = Bench::new().await;
    bench
        .app
        .slash(common::ADMIN, "grant <@UBOB> github for 1h")
        .await
        .ephemeral();
    let reply = bench.app.slash("UBOB", "github").await;
    reply.ephemeral();
    let code = bench.app.expected_code(bench.app.clock.now());
    assert!(reply.text().contains(&code), "the code is in the blocks");
    let fallback = reply.json["text"].as_str().expect("text");
    assert!(!fallback.contains(&code), "{fallback}");
    assert!(fallback.starts_with("Your "), "{fallback}");
}
