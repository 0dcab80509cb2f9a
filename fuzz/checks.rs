//! What each fuzz target checks, one function per target, shared by the fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, nightly and instrumented) and by the ordinary test that replays
//! every committed corpus file on stable (`tests/fuzz_corpus.rs`). A check panics when a
//! guarantee does not hold for its input; any other input returns quietly.

use std::sync::LazyLock;

use otpbot::command::Command;
use otpbot::domain::{Platform, Principal, RequestId, Seed, Timestamp};
use otpbot::keys::SigningSecret;
use otpbot::reply::{clean, mention, CodeCard, Reply, Tone};
use otpbot::slack::signature::{sign, verify};
use otpbot::teams::activity::Activity;
use pulldown_cmark::{Event, Parser, Tag};

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// The targets, by name, with their checks: the corpus directory of each is
/// `fuzz/corpus/<name>/`.
pub const TARGETS: [(&str, Check); 5] = [
    ("command", command),
    ("otpauth_uri", otpauth_uri),
    ("render", render),
    ("slack_request", slack_request),
    ("teams_activity", teams_activity),
];

/// The command grammar: any text after `/otp`, from a Slack or a Teams caller, parses to a
/// command or a usage error, never a panic; whatever parses names its audit action.
pub fn command(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let callers = [
        Principal::new(Platform::Slack, "T0TEST", "UCALLER"),
        Principal::new(
            Platform::Teams,
            "11111111-2222-3333-4444-555555555555",
            "aaaaaaaa-0000-0000-0000-000000000001",
        ),
    ];
    for caller in callers.into_iter().flatten() {
        if let Ok(command) = Command::parse(text, &caller) {
            let _ = command.action();
        }
    }
}

/// Seeds as enrolled: `otpauth://` URIs and bare base32. Anything parses or is refused with an
/// error; a parsed seed yields codes of its stated length at any time.
pub fn otpauth_uri(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(seed) = Seed::parse(input) else {
        return;
    };
    for at in [0, 1_793_700_005, i64::from(u32::MAX)] {
        let code = seed.code_at(Timestamp::from_unix(at));
        assert_eq!(code.expose().len(), seed.digits(), "code length");
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    let issue = seed.issue(Timestamp::from_unix(1_793_700_005));
    assert!(issue.valid_for_secs <= seed.period());
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_793_700_005;

/// The Slack request path before any state: the signature check over raw headers and body,
/// and the form body's decoding. A body signed with the secret must verify; a changed byte, a
/// stale timestamp or any other secret must not; nothing may panic. Input:
/// `{timestamp}\n{signature}\n{body}`.
pub fn slack_request(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().map(String::from_utf8_lossy);
    let signature = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    let secret = SigningSecret::new(SLACK_SECRET.into());
    let now = Timestamp::from_unix(NOW);

    let _ = verify(
        &secret,
        timestamp.as_deref(),
        signature.as_deref(),
        body,
        now,
    );
    let _ = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body);

    let good = sign(&secret, NOW, body);
    let ts = NOW.to_string();
    assert!(verify(&secret, Some(&ts), Some(&good), body, now).is_ok());
    let other = SigningSecret::new("another-secret-another-secret-00".into());
    assert!(verify(&other, Some(&ts), Some(&good), body, now).is_err());
    let stale = (NOW - 3_600).to_string();
    assert!(verify(
        &secret,
        Some(&stale),
        Some(&sign(&secret, NOW - 3_600, body)),
        body,
        now
    )
    .is_err());
    if !body.is_empty() {
        let mut changed = body.to_vec();
        changed[0] ^= 1;
        assert!(verify(&secret, Some(&ts), Some(&good), &changed, now).is_err());
    }
}

/// A Bot Framework activity as the Teams endpoint reads it: the JSON body, the tenant, the
/// conversation type and the mention entities. Nothing may panic on any body.
pub fn teams_activity(data: &[u8]) {
    let Ok(activity) = serde_json::from_slice::<Activity>(data) else {
        return;
    };
    let _ = activity.tenant();
    let _ = activity.is_personal();
    // The mention handling's pure part: each mention's shown text found in the message text.
    let text = activity
        .text
        .clone()
        .unwrap_or_default()
        .replace("&nbsp;", " ");
    for entity in activity.entities.iter().filter(|e| e.kind == "mention") {
        if let (Some(mentioned), Some(shown)) = (&entity.mentioned, &entity.text) {
            let _ = text.replacen(shown.as_str(), &format!(" <@{}> ", mentioned.id), 1);
        }
    }
}

const BIDI: [char; 11] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}',
];

/// Slack text holds no `<…>` control sequence but those `allowed`, and no bidirectional control.
pub fn check_slack(text: &str, allowed: &[String]) {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        let control = &rest[start..end];
        assert!(
            allowed.iter().any(|a| a == control),
            "Slack control {control:?} in {text:?}"
        );
        rest = &rest[end..];
    }
    assert!(!text.contains(BIDI), "bidi control in Slack text");
}

/// Teams Markdown builds nothing but text and paragraphs, and holds no bidirectional control.
pub fn check_teams(text: &str) {
    for event in Parser::new(text) {
        match event {
            Event::Text(_) | Event::SoftBreak | Event::HardBreak => {}
            Event::Start(Tag::Paragraph) | Event::End(_) => {}
            other => panic!("Teams would render {other:?} from {text:?}"),
        }
    }
    assert!(!text.contains(BIDI), "bidi control in Teams text");
}

static SEED: LazyLock<Seed> =
    LazyLock::new(|| Seed::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").expect("seed"));

/// The process's mention key, read back from a marker. A chat user never sees it (the checks
/// below make sure no output shows it); libFuzzer can learn it from the comparison that
/// recognises a marker, so inputs holding it are skipped rather than treated as forgeries.
static KEY: LazyLock<String> = LazyLock::new(|| {
    let marker = mention("");
    let mut chars = marker.chars();
    chars.next();
    chars.next_back();
    chars.as_str().to_owned()
});

/// The renderers with any display name and any reply lines (with and without otpbot's own
/// mentions). Whatever the input: Slack text holds no `<…>` control sequence except otpbot's
/// mentions, Teams Markdown builds no link, emphasis, list or heading (read by a CommonMark
/// parser), no bidirectional control reaches either, and the code stays out of the
/// notification fields. Input: a byte choosing whether the reply carries a code, then the
/// display name, then lines; a line starting with '@' gets one of otpbot's mentions of a
/// Slack-shaped id in front.
pub fn render(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let seed = &*SEED;
    // Typed text is shown without its hidden characters, so the key may also appear once those
    // are removed.
    if clean(input, usize::MAX).contains(KEY.as_str()) {
        return;
    }
    let mut parts = input.split('\n');
    let display = parts.next().unwrap_or_default().to_owned();
    let mut allowed = Vec::new();
    let lines: Vec<String> = parts
        .map(|line| match line.strip_prefix('@') {
            Some(rest) => {
                allowed.push("<@U0OWN>".to_owned());
                format!("{} {rest}", mention("U0OWN"))
            }
            None => line.to_owned(),
        })
        .collect();
    let code = seed.code_at(Timestamp::from_unix(NOW)).expose().to_owned();
    let with_code = choice & 1 == 1;
    let reply = Reply {
        tone: Tone::Info,
        lines,
        code: with_code.then(|| CodeCard {
            tool_display: display.clone(),
            code: seed.code_at(Timestamp::from_unix(NOW)),
            valid_for_secs: 30,
            next: None,
        }),
        request_id: RequestId::from_stored("0123456789abcdef".into()),
        buttons: Vec::new(),
        follow_ups: Default::default(),
    };
    let slack = serde_json::to_value(otpbot::slack::render::render(&reply)).expect("serialise");
    let teams = otpbot::teams::render::render(&reply);
    assert!(
        !slack.to_string().contains(KEY.as_str()),
        "Slack output shows the mention key"
    );
    assert!(
        !teams.to_string().contains(KEY.as_str()),
        "Teams output shows the mention key"
    );
    check_slack(slack["text"].as_str().unwrap_or_default(), &allowed);
    for block in slack["blocks"].as_array().into_iter().flatten() {
        check_slack(block["text"]["text"].as_str().unwrap_or_default(), &allowed);
    }
    check_teams(teams["text"].as_str().unwrap_or_default());
    for block in teams["attachments"][0]["content"]["body"]
        .as_array()
        .into_iter()
        .flatten()
    {
        check_teams(block["text"].as_str().unwrap_or_default());
    }
    // The display name is the only other text there; it may itself spell the digits.
    if with_code && !clean(&display, usize::MAX).contains(&code) {
        assert!(!slack["text"].as_str().unwrap_or_default().contains(&code));
        assert!(!teams["text"].as_str().unwrap_or_default().contains(&code));
        assert!(!teams["summary"]
            .as_str()
            .unwrap_or_default()
            .contains(&code));
    }
}
