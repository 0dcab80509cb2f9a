//! Platform-neutral replies. Front ends render them (Slack: Block Kit); the core never builds
//! platform JSON. A reply can hold a code, so `Debug` shows it redacted (see [`OtpCode`]).

use crate::domain::{OtpCode, RequestId};

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
}

impl Reply {
    /// A normal answer.
    pub fn info(request_id: &RequestId, lines: Vec<String>) -> Self {
        Self {
            tone: Tone::Info,
            lines,
            code: None,
            request_id: request_id.clone(),
        }
    }

    /// A refusal or usage error, with its explanation.
    pub fn refusal(request_id: &RequestId, message: impl Into<String>) -> Self {
        Self {
            tone: Tone::Refusal,
            lines: vec![message.into()],
            code: None,
            request_id: request_id.clone(),
        }
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
        }
    }

    /// Plain-text rendering, used as the notification fallback and by the CLI.
    pub fn plain_text(&self) -> String {
        let mut out = Vec::new();
        if let Some(card) = &self.code {
            out.push(format!(
                "{} code: {} (valid for {} s)",
                card.tool_display,
                card.code.expose(),
                card.valid_for_secs
            ));
            if let Some(next) = &card.next {
                out.push(format!("next code: {}", next.expose()));
            }
        }
        out.extend(self.lines.iter().cloned());
        out.join("\n")
    }
}
