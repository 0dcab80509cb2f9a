//! The renderers with any display name and any reply lines (with and without otpbot's own
//! mentions). Whatever the input: Slack text holds no `<…>` control sequence except otpbot's
//! mentions, Teams Markdown builds no link, emphasis, list or heading (read by a CommonMark
//! parser), no bidirectional control reaches either, and the code stays out of the
//! notification fields.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use otpbot::domain::{RequestId, Seed, Timestamp};
use otpbot::reply::{clean, mention, CodeCard, Reply, Tone};
use pulldown_cmark::{Event, Parser, Tag};

const BIDI: [char; 11] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}',
];

fn check_slack(text: &str, allowed: &[String]) {
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

fn check_teams(text: &str) {
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
const AT: i64 = 1_793_700_005;

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

fuzz_target!(|data: &[u8]| {
    // Input: a byte choosing whether the reply carries a code, then the display name, then
    // lines; a line starting with '@' gets one of otpbot's mentions of a Slack-shaped id in front.
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
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
    let code = SEED.code_at(Timestamp::from_unix(AT)).expose().to_owned();
    let request_id = RequestId::from_stored("0123456789abcdef".into());
    {
        let with_code = choice & 1 == 1;
        let reply = Reply {
            tone: Tone::Info,
            lines: lines.clone(),
            code: with_code.then(|| CodeCard {
                tool_display: display.clone(),
                code: SEED.code_at(Timestamp::from_unix(AT)),
                valid_for_secs: 30,
                next: None,
            }),
            request_id: request_id.clone(),
            buttons: Vec::new(),
            notices: Vec::new(),
        };
        let slack = otpbot::slack::render::render(&reply);
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
});
