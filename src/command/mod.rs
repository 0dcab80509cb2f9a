//! The command grammar (SPEC §2): one file per command, each with its `parse` and `apply`,
//! behind the [`Command`] enum. Adding a command touches one new file and one enum arm.
//!
//! Commands decide; the engine audits refusals centrally, and each command commits its own
//! success as one decision through [`Ctx::commit`]: the change or the issuance together with its
//! audit record, before anything is revealed.
//!
//! This layer owns what a command runs against ([`Core`], [`Ctx`], [`Draft`], [`Policy`],
//! [`ChatRequest`]) and imports only the stores, the domain, the keys and the reply types; it
//! never imports the engine or a front end, which build on it.

mod args;
mod audit;
mod code;
mod ctx;
mod decide;
mod done;
mod grant;
mod help;
mod list;
mod policy;
mod request;
mod revoke;
mod role;
mod tools;
mod who;

use crate::domain::{Action, Outcome, Principal, ToolName};
use crate::reply::{Button, Reply, RequestMessage};
use crate::store::StoreError;

pub use self::audit::Audit;
pub use args::{grant_length, parse_tool, parse_user, shorten, show_user, Args, MAX_REASON};
pub use code::Code;
pub(crate) use ctx::per_caller_denial;
pub use ctx::{AdminView, Arrival, AuditorView, ChatRequest, Core, Ctx};
pub use decide::Decide;
pub use done::Done;
pub use grant::Grant;
pub use help::Help;
pub use list::List;
pub use policy::Policy;
pub use request::RequestAccess;
pub use revoke::Revoke;
pub use role::RoleChange;
pub use tools::Tools;
pub use who::Who;

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
        request_message: Option<Box<RequestMessage>>,
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
            request_message: None,
        }
    }

    /// The refusal with the message of the access request it concerns.
    pub fn with_request_message(self, current: &RequestMessage) -> Self {
        match self {
            Self::Denied { draft, message, .. } => Self::Denied {
                draft,
                message,
                request_message: Some(Box::new(current.clone())),
            },
            other => other,
        }
    }
}

/// The parts of an audit event a command decides; [`Core::event`] adds id, time, request, actor.
#[derive(Debug, Clone)]
pub struct Draft {
    /// What was asked for.
    pub action: Action,
    /// The tool concerned.
    pub tool: Option<ToolName>,
    /// The other principal concerned.
    pub subject: Option<Principal>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short, non-secret detail.
    pub detail: Option<String>,
    /// MAC of an issued code.
    pub code_mac: Option<String>,
}

impl Draft {
    /// A draft with only action and outcome set.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            tool: None,
            subject: None,
            outcome,
            detail: None,
            code_mac: None,
        }
    }

    /// Sets the tool.
    pub fn tool(mut self, tool: &ToolName) -> Self {
        self.tool = Some(tool.clone());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: &Principal) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Result alias for commands.
pub type CommandResult<T> = Result<T, CommandError>;

/// One parsed command.
#[derive(Debug)]
pub enum Command {
    /// `<tool>`
    Code(Code),
    /// empty or `help`
    Help(Help),
    /// `list`
    List(List),
    /// `done <tool>`
    Done(Done),
    /// `grant <@user> <tool> [for <dur>] [reason…]`
    Grant(Grant),
    /// `revoke <@user> <tool>`
    Revoke(Revoke),
    /// `who <tool>`
    Who(Who),
    /// `tools`
    Tools(Tools),
    /// `role add|remove <@user> admin|auditor`
    Role(RoleChange),
    /// `audit [<tool>|<@user>] [since <dur>]`
    Audit(Audit),
    /// `request <tool> [for <dur>] [reason…]`
    Request(RequestAccess),
    /// `approve <id> [for <dur>] [reason…]` or `deny <id> [reason…]`
    Decide(Decide),
}

/// The longest command text accepted; Slack allows far less in practice.
const MAX_TEXT: usize = 2_000;

impl Command {
    /// Parses the text after `/otp`. `caller` scopes mentions to the caller's workspace.
    pub fn parse(text: &str, caller: &Principal) -> CommandResult<Self> {
        if text.len() > MAX_TEXT {
            return Err(CommandError::Usage("That command is too long.".into()));
        }
        if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(CommandError::Usage(
                "That command contains control characters.".into(),
            ));
        }
        let mut args = Args::new(text);
        let Some(first) = args.word() else {
            return Ok(Command::Help(Help));
        };
        let command = match first.to_ascii_lowercase().as_str() {
            "help" => Command::Help(Help),
            "list" => Command::List(List),
            "done" => Command::Done(Done::parse(&mut args)?),
            "grant" => Command::Grant(Grant::parse(&mut args, caller)?),
            "revoke" => Command::Revoke(Revoke::parse(&mut args, caller)?),
            "who" => Command::Who(Who::parse(&mut args)?),
            "tools" => Command::Tools(Tools),
            "role" => Command::Role(RoleChange::parse(&mut args, caller)?),
            "audit" => Command::Audit(Audit::parse(&mut args, caller)?),
            "request" => Command::Request(RequestAccess::parse(&mut args)?),
            "approve" => Command::Decide(Decide::parse(&mut args, true)?),
            "deny" => Command::Decide(Decide::parse(&mut args, false)?),
            _ => Command::Code(Code {
                tool: parse_tool(first)?,
            }),
        };
        args.finish()?;
        Ok(command)
    }

    /// The audit action this command is recorded under.
    pub fn action(&self) -> Action {
        match self {
            Command::Code(_) => Action::Code,
            Command::Help(_) | Command::List(_) => Action::Request,
            Command::Done(_) => Action::Done,
            Command::Grant(_) => Action::Grant,
            Command::Revoke(_) => Action::Revoke,
            Command::Who(_) => Action::Who,
            Command::Tools(_) => Action::Tools,
            Command::Role(r) => r.action(),
            Command::Audit(_) => Action::Audit,
            Command::Request(_) => Action::AccessRequest,
            Command::Decide(d) => d.action(),
        }
    }

    /// The command a click on `button` stands for: typed, never through command text.
    pub fn clicked(button: Button) -> Self {
        match button {
            Button::RequestAccess(tool) => Command::Request(RequestAccess {
                tool,
                duration: None,
                reason: None,
            }),
            Button::GetCode(tool) => Command::Code(Code { tool }),
            Button::Approve(id, duration) => Command::Decide(Decide {
                approve: true,
                id,
                duration,
                reason: None,
            }),
            Button::Deny(id) => Command::Decide(Decide {
                approve: false,
                id,
                duration: None,
                reason: None,
            }),
        }
    }

    /// Carries the command out for the caller in `ctx`.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        match self {
            Command::Code(c) => c.apply(ctx).await,
            Command::Help(c) => c.apply(ctx).await,
            Command::List(c) => c.apply(ctx).await,
            Command::Done(c) => c.apply(ctx).await,
            Command::Grant(c) => c.apply(ctx).await,
            Command::Revoke(c) => c.apply(ctx).await,
            Command::Who(c) => c.apply(ctx).await,
            Command::Tools(c) => c.apply(ctx).await,
            Command::Role(c) => c.apply(ctx).await,
            Command::Audit(c) => c.apply(ctx).await,
            Command::Request(c) => c.apply(ctx).await,
            Command::Decide(c) => c.apply(ctx).await,
        }
    }
}

/// Refusal for a caller without the needed role.
pub fn forbidden(action: Action, who: &str) -> CommandError {
    CommandError::denied(
        Draft::new(action, Outcome::Forbidden),
        format!("Only {who} can do that."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tool named like a command could never be asked for: `/otp approve` runs the command.
    #[test]
    fn every_command_word_is_a_reserved_tool_name() {
        let caller = Principal::parse("slack:T1:U1").expect("principal");
        for word in [
            "help", "list", "done", "grant", "revoke", "who", "tools", "role", "audit", "request",
            "approve", "deny",
        ] {
            assert!(
                !matches!(Command::parse(word, &caller), Ok(Command::Code(_))),
                "`{word}` is a command"
            );
            assert!(ToolName::parse(word).is_err(), "`{word}` is reserved");
        }
    }
}
