//! How a command ends when it does not produce a normal reply: a usage error, an audited
//! refusal, a store failure, an inconsistency, or a replay. The engine audits refusals and
//! failures centrally; a command only says which it is.

use super::draft::Draft;
use crate::domain::{Action, Outcome, ToolName};
use crate::reply::ApprovalMessage;
use crate::store::StoreError;

/// Why a command did not produce a normal reply.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The text does not follow the grammar. The message is safe to show.
    #[error("{0}")]
    Usage(String),
    /// A policy refusal; `draft` is what gets audited, `message` what the caller sees.
    #[error("{message}")]
    Denied {
        /// The audit record of the refusal.
        draft: Box<Draft>,
        /// The caller's explanation.
        message: String,
        /// The access request's message as it stands, when the refusal concerns one (a click
        /// on a decided request's button still brings its message up to date).
        approval_message: Option<Box<ApprovalMessage>>,
    },
    /// A store failed: the caller gets a generic message, the log gets this.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored state is inconsistent (e.g. a tool without a seed).
    #[error("inconsistent state: {0}")]
    Inconsistent(String),
    /// The request's replay marker was seen before: nothing was done.
    #[error("replayed request")]
    Replayed,
}

impl CommandError {
    /// A refusal to audit as `draft` and explain with `message`.
    pub fn denied(draft: Draft, message: impl Into<String>) -> Self {
        Self::Denied {
            draft: Box::new(draft),
            message: message.into(),
            approval_message: None,
        }
    }

    /// The refusal with the message of the access request it concerns.
    pub fn with_approval_message(self, current: &ApprovalMessage) -> Self {
        match self {
            Self::Denied { draft, message, .. } => Self::Denied {
                draft,
                message,
                approval_message: Some(Box::new(current.clone())),
            },
            other => other,
        }
    }
}

/// Result alias for commands.
pub type CommandResult<T> = Result<T, CommandError>;

/// Refusal for a caller without the needed role.
pub fn forbidden(action: Action, who: &str) -> CommandError {
    CommandError::denied(
        Draft::new(action, Outcome::Forbidden),
        format!("Only {who} can do that."),
    )
}

/// The refusal of a request over the per-caller limit; its record names the tool the request
/// was about, where it is known.
pub(crate) fn per_caller_denial(action: Action, tool: Option<&ToolName>) -> CommandError {
    let mut draft = Draft::new(action, Outcome::RateLimited).detail("per-caller limit");
    draft.tool = tool.cloned();
    CommandError::denied(
        draft,
        "You are sending too many requests. Wait a few minutes and try again.",
    )
}
