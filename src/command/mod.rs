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

mod approval_message;
mod args;
mod audit_query;
mod break_glass;
mod code;
mod core;
mod count_approval;
mod ctx;
mod decide;
mod decide_check;
mod done;
mod draft;
mod error;
mod grant;
mod group_mention;
mod groups;
mod help;
mod list;
mod membership;
mod policy;
mod request_access;
mod review;
mod revoke;
mod role;
pub mod sweep;
mod text;
mod tools;
mod who;

use crate::domain::{Action, Principal};
use crate::reply::{Button, Reply};

use self::args::{parse_tool, Args};
pub use self::audit_query::Audit;
pub use self::break_glass::BreakGlassNow;
pub use self::code::Code;
pub use self::core::{Arrival, ChatRequest, Core};
pub use self::ctx::{AdminView, AuditorView, Ctx};
pub use self::decide::Decide;
pub use self::done::Done;
pub use self::draft::Draft;
pub(crate) use self::error::per_caller_denial;
pub use self::error::{CommandError, CommandResult};
pub use self::grant::Grant;
pub use self::help::Help;
pub use self::list::List;
pub use self::membership::{GroupError, Groups, Membership};
pub use self::policy::Policy;
pub use self::request_access::RequestAccess;
pub use self::review::Review;
pub use self::revoke::Revoke;
pub use self::role::RoleChange;
pub use self::tools::Tools;
pub use self::who::Who;

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
    /// `break-glass <tool> <reason…>`
    BreakGlass(BreakGlassNow),
    /// `review <id> ok|revoke [reason…]`
    Review(Review),
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
            "break-glass" => Command::BreakGlass(BreakGlassNow::parse(&mut args)?),
            "review" => Command::Review(Review::parse(&mut args)?),
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
            Command::BreakGlass(_) => Action::BreakGlass,
            Command::Review(_) => Action::Review,
        }
    }

    /// The command a click on `button` stands for: typed, never through command text.
    pub fn clicked(button: Button) -> Self {
        match button {
            Button::RequestAccess(tool) | Button::MoreTime(tool) => {
                Command::Request(RequestAccess {
                    tool,
                    duration: None,
                    reason: None,
                })
            }
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
            Button::Review(id, ok) => Command::Review(Review {
                id,
                ok,
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
            Command::BreakGlass(c) => c.apply(ctx).await,
            Command::Review(c) => c.apply(ctx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ToolName;

    /// A tool named like a command could never be asked for: `/otp approve` runs the command.
    #[test]
    fn every_command_word_is_a_reserved_tool_name() {
        let caller = Principal::parse("slack:T1:U1").expect("principal");
        for word in [
            "help",
            "list",
            "done",
            "grant",
            "revoke",
            "who",
            "tools",
            "role",
            "audit",
            "request",
            "approve",
            "deny",
            "break-glass",
            "review",
        ] {
            assert!(
                !matches!(Command::parse(word, &caller), Ok(Command::Code(_))),
                "`{word}` is a command"
            );
            assert!(ToolName::parse(word).is_err(), "`{word}` is reserved");
        }
    }
}
