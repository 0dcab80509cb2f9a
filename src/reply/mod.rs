//! Platform-neutral replies. Front ends render them (Slack: Block Kit, Teams: Adaptive Cards);
//! the core never builds platform JSON. A reply can hold a code, so `Debug` shows it redacted
//! (see [`OtpCode`]).
//!
//! Reply lines mix otpbot's own words with text users control (tool display names, grant
//! reasons, the words of a request). A line is split into [`Segment`]s: plain text, `` `x` ``
//! literals and mentions otpbot itself wrote ([`mention`]). Renderers escape every text and
//! literal segment for their platform and turn only [`Segment::Mention`] into a mention, so
//! nothing a user typed can become a ping, a link or markup.

mod button;
mod segment;

pub use button::{Button, Data, Verb};
pub use segment::{clean, mention, mention_named, segments, Segment};

use crate::domain::{AccessRequestId, MessageRef, OtpCode, Platform, Principal, RequestId};

/// Longest reply line, in characters, before it is cut short with `…`.
pub const LINE_LIMIT: usize = 1_000;

/// Longest tool display name shown, in characters.
pub const DISPLAY_NAME_LIMIT: usize = 100;

/// What kind of answer this is; front ends may style them differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// A normal answer.
    Info,
    /// The caller asked for something they may not have, or typed something wrong.
    Refusal,
    /// Something failed inside otpbot; the caller should retry and quote the request id.
    Internal,
}

/// An issued code as shown to its caller.
#[derive(Debug)]
pub struct CodeCard {
    /// The tool's display name.
    pub tool_display: String,
    /// The current code.
    pub code: OtpCode,
    /// Seconds it stays valid.
    pub valid_for_secs: u64,
    /// The next code, when the current one is about to roll over.
    pub next: Option<OtpCode>,
}

/// One answer to one chat request, always private to the caller.
#[derive(Debug)]
pub struct Reply {
    /// Kind of answer.
    pub tone: Tone,
    /// Plain text lines (front ends escape them). `` `x` `` marks literal text.
    pub lines: Vec<String>,
    /// The code, for an issued code.
    pub code: Option<CodeCard>,
    /// The request this answers.
    pub request_id: RequestId,
    /// Buttons offered under the reply.
    pub buttons: Vec<Button>,
    /// Everything else the decision calls for, delivered after the answer.
    pub follow_ups: FollowUps,
}

/// What follows from a decision besides the caller's answer: the command that decided says it
/// all here, and a front end delivers it as it is, after it has answered the caller (a slow
/// platform never delays the answer), without reading a store or reading the answer's words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowUps {
    /// Messages for others: a tool's approvals or notice channel, approvers, the requester.
    pub notices: Vec<Notice>,
    /// What the message that asked approvers about an access request says now, for the copy
    /// of it the decision came from (the message a button was clicked on).
    pub approval_message: Option<ApprovalMessage>,
    /// Said to the caller privately when there were notices and none of them could be
    /// delivered (e.g. "no approver was told; give an admin the request id").
    pub if_undelivered: Option<String>,
    /// Every copy of the request's approval message posted so far (the approvals channel,
    /// each approver's direct message), replaced with [`FollowUps::approval_message`] once
    /// the request is settled, wherever it was posted.
    pub copies: Vec<MessageRef>,
    /// The request whose approval message the notices with buttons are copies of: where the
    /// front end posts them is recorded with the request, so each copy can be updated later.
    pub record_copies: Option<AccessRequestId>,
}

/// The message approvers see about one access request, as it stands after a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalMessage {
    /// The request.
    pub request: AccessRequestId,
    /// Its lines (the rules of [`Reply::lines`]).
    pub lines: Vec<String>,
    /// Its buttons: the decisions still open to approvers; none once settled.
    pub buttons: Vec<Button>,
    /// Whether the copy is replaced for everyone who sees it: the request is settled (decided
    /// or expired), or an approval was counted on it short of the approvals it needs (the
    /// count shows, the buttons stay). An open request's message otherwise stays as it is.
    pub settled: bool,
}

/// Who a notice goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// A channel or conversation id, as an admin set it on the tool (`--approvals-channel`,
    /// `--notify-channel`).
    Channel(String),
    /// One person, in a private chat the front end opens.
    Person(Principal),
}

impl Audience {
    /// The platform this audience is on: a person's own; for a channel, the shape of its id.
    /// Slack conversation ids are upper-case letters and digits starting with `C`, `G` or `D`
    /// (Slack, "Conversations API": <https://docs.slack.dev/apis/web-api/using-the-conversations-api>);
    /// Teams conversation ids hold a `:` (`19:…@thread.tacv2`, `a:…`: Microsoft, "Conversation
    /// basics": <https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-basics>).
    pub fn platform(&self) -> Option<Platform> {
        match self {
            Audience::Person(p) => Some(p.platform()),
            Audience::Channel(id) if id.contains(':') => Some(Platform::Teams),
            Audience::Channel(id)
                if id.len() >= 2
                    && id.starts_with(['C', 'G', 'D'])
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                Some(Platform::Slack)
            }
            Audience::Channel(_) => None,
        }
    }
}

/// A message to others that a decision calls for, rendered and sent by the front end of the
/// platform its audience is on. Its lines follow the rules of [`Reply::lines`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Where it goes: a tool's approvals or notice channel, or one approver.
    pub to: Audience,
    /// The message lines.
    pub lines: Vec<String>,
    /// Buttons under it.
    pub buttons: Vec<Button>,
}

impl Reply {
    /// A normal answer.
    pub fn info(request_id: &RequestId, lines: Vec<String>) -> Self {
        Self {
            tone: Tone::Info,
            lines,
            code: None,
            request_id: request_id.clone(),
            buttons: Vec::new(),
            follow_ups: FollowUps::default(),
        }
    }

    /// A refusal or usage error, with its explanation.
    pub fn refusal(request_id: &RequestId, message: impl Into<String>) -> Self {
        Self {
            tone: Tone::Refusal,
            lines: vec![message.into()],
            code: None,
            request_id: request_id.clone(),
            buttons: Vec::new(),
            follow_ups: FollowUps::default(),
        }
    }

    /// The reply with `button` offered under it.
    pub fn with_button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }

    /// The reply with `notice` to be sent.
    pub fn with_notice(mut self, notice: Notice) -> Self {
        self.follow_ups.notices.push(notice);
        self
    }

    /// The generic answer to an internal failure: no detail, just the id to quote.
    pub fn internal(request_id: &RequestId) -> Self {
        Self {
            tone: Tone::Internal,
            lines: vec![format!(
                "Something went wrong on our side and nothing was issued. Please try again; if it keeps failing, give your admin request id `{request_id}`."
            )],
            code: None,
            request_id: request_id.clone(),
            buttons: Vec::new(),
            follow_ups: FollowUps::default(),
        }
    }

    /// Plain-text rendering for a terminal (the CLI), code included: mentions as `<@id>`,
    /// literals between backticks, control characters removed. Never sent to a chat.
    pub fn plain_text(&self) -> String {
        let mut out = Vec::new();
        if let Some(card) = &self.code {
            out.push(format!(
                "{} code: {} (valid for {} s)",
                clean(&card.tool_display, DISPLAY_NAME_LIMIT),
                card.code.expose(),
                card.valid_for_secs
            ));
            if let Some(next) = &card.next {
                out.push(format!("next code: {}", next.expose()));
            }
        }
        out.extend(self.lines.iter().map(|line| {
            segments(line)
                .into_iter()
                .map(|segment| match segment {
                    Segment::Text(t) => clean(t, LINE_LIMIT),
                    Segment::Literal(t) => format!("`{}`", clean(t, LINE_LIMIT)),
                    Segment::Mention(user) | Segment::Named(user, _) => {
                        format!("<@{}>", clean(user, LINE_LIMIT))
                    }
                })
                .collect::<String>()
        }));
        out.join("\n")
    }

    /// What notifications and previews show for an issued code: "Your {tool} code is ready",
    /// never the code itself. `None` when the reply carries no code. Cleaned, not escaped.
    pub fn code_ready(&self) -> Option<String> {
        self.code.as_ref().map(|card| {
            format!(
                "Your {} code is ready",
                clean(&card.tool_display, DISPLAY_NAME_LIMIT)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::segment::{MENTION_CLOSE, MENTION_OPEN};
    use super::*;

    #[test]
    fn a_backtick_cannot_swallow_a_mention() {
        let line = format!("a `b {} c` d", mention("U1"));
        assert_eq!(
            segments(&line),
            vec![
                Segment::Text("a `b "),
                Segment::Mention("U1"),
                Segment::Text(" c` d"),
            ]
        );
        assert_eq!(
            segments("x `y` z `"),
            vec![
                Segment::Text("x "),
                Segment::Literal("y"),
                Segment::Text(" z `"),
            ]
        );
    }

    #[test]
    fn a_channel_audience_belongs_to_the_platform_its_id_is_shaped_for() {
        let channel = |id: &str| Audience::Channel(id.into()).platform();
        assert_eq!(channel("C0123ABC"), Some(Platform::Slack));
        assert_eq!(channel("G0123"), Some(Platform::Slack));
        assert_eq!(channel("19:abc123@thread.tacv2"), Some(Platform::Teams));
        assert_eq!(channel("a:1xyz"), Some(Platform::Teams));
        assert_eq!(channel("c0123"), None, "Slack ids are upper case");
        assert_eq!(channel("#general"), None);
        assert_eq!(channel("C"), None);
        let person = Principal::parse("slack:T1:U1").expect("principal");
        assert_eq!(Audience::Person(person).platform(), Some(Platform::Slack));
    }

    #[test]
    fn a_marker_without_the_key_is_not_a_mention() {
        let forged = format!("{MENTION_OPEN}U1{MENTION_CLOSE} ok");
        // The close character stays in the text segment; every renderer cleans it away.
        assert_eq!(segments(&forged), vec![Segment::Text("U1\u{E001} ok")]);
        assert_eq!(clean(&forged, 100), "U1 ok");
    }
}
