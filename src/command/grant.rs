//! `/otp grant <@user> <tool> [for <dur>] [reason…]`: admin gives time-bound access.

use super::args::{grant_length, parse_tool, parse_user, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{
    Action, Grant as StoredGrant, GrantDuration, Outcome, Person, Principal, ToolName,
};
use crate::reply::Reply;
use crate::store::{Change, Effect, Verdict};

const USAGE: &str = "/otp grant @user <tool> [for 8h] [reason]";

/// Grants a user access to a tool.
#[derive(Debug)]
pub struct Grant {
    /// Who gets access.
    pub user: Principal,
    /// To what.
    pub tool: ToolName,
    /// For how long; the tool's default when absent.
    pub duration: Option<GrantDuration>,
    /// Why, as typed.
    pub reason: Option<String>,
}

impl Grant {
    /// `grant <@user> <tool> [for <dur>] [reason…]`
    pub fn parse(args: &mut Args<'_>, caller: &Principal) -> CommandResult<Self> {
        let user = parse_user(args.require("a user", USAGE)?, caller)?;
        let tool = parse_tool(args.require("a tool", USAGE)?)?;
        let (duration, reason) = args.duration_and_reason(USAGE)?;
        Ok(Self {
            user,
            tool,
            duration,
            reason,
        })
    }

    /// Checks the tool's limits, then commits the grant with its audit record in one step.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let admin = ctx.admin(Action::Grant)?;
        let draft = |outcome| {
            Draft::new(Action::Grant, outcome)
                .tool(&self.tool)
                .subject(&self.user)
        };
        let Some(tool) = admin.access.tool(&self.tool).await? else {
            let msg = format!("There is no tool called `{}`.", self.tool);
            return Err(CommandError::denied(draft(Outcome::UnknownTool), msg));
        };
        let duration = grant_length(&tool, self.duration, draft(Outcome::Invalid))?;
        // A user of the caller's own workspace belongs to the caller's Enterprise Grid org.
        let org = (self.user.workspace() == ctx.caller().workspace())
            .then(|| ctx.person().enterprise())
            .flatten();
        let grant = StoredGrant {
            person: Person::of(&self.user, org),
            principal: self.user.clone(),
            tool: self.tool.clone(),
            granted_by: ctx.caller().clone(),
            granted_at: ctx.now,
            expires_at: ctx.now.plus_secs(duration.secs()),
            reason: self.reason.clone(),
        };
        let detail = match &self.reason {
            Some(reason) => format!("for {duration} until {}: {reason}", grant.expires_at),
            None => format!("for {duration} until {}", grant.expires_at),
        };
        let effect = Effect::Change {
            change: Change::PutGrant(grant.clone()),
            if_unchanged: None,
        };
        // The tool may have been removed since it was read: then there is nothing to grant.
        if ctx
            .commit(draft(Outcome::Ok).detail(detail), effect, None)
            .await?
            == Verdict::UnknownTool
        {
            let msg = format!("There is no tool called `{}`.", self.tool);
            return Err(CommandError::denied(draft(Outcome::UnknownTool), msg));
        }
        let who = show_user(&self.user, ctx.caller());
        let line = format!(
            "Granted {who} access to {} for {duration}, until {}.",
            tool.display_name, grant.expires_at
        );
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
