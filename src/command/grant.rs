//! `/otp grant <@user> <tool> [for <dur>] [reason…]`: admin gives time-bound access.

use super::{parse_tool, parse_user, show_user, Args, CommandError, CommandResult};
use crate::domain::{Action, Grant as StoredGrant, GrantDuration, Outcome, Principal, ToolName};
use crate::engine::{Ctx, Draft};
use crate::reply::Reply;

const USAGE: &str = "/otp grant @user <tool> [for 8h] [reason]";
const MAX_REASON: usize = 200;

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
        let mut duration = None;
        if args.peek().is_some_and(|w| w.eq_ignore_ascii_case("for")) {
            args.word();
            let text = args.require("a duration", USAGE)?;
            duration = Some(GrantDuration::parse(text).ok_or_else(|| {
                CommandError::Usage(format!(
                    "`{}` is not a duration like 30m, 8h, 7d or 2w.",
                    super::shorten(text)
                ))
            })?);
        }
        let reason: String = args
            .rest()
            .chars()
            .filter(|c| *c != '`')
            .take(MAX_REASON)
            .collect();
        Ok(Self {
            user,
            tool,
            duration,
            reason: (!reason.is_empty()).then_some(reason),
        })
    }

    /// Checks the tool's limits, stores the grant, audits it; rolls back if the audit fails.
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
        let duration = self.duration.unwrap_or(tool.default_grant);
        if duration > tool.max_grant {
            let msg = format!(
                "{} grants are at most {}; you asked for {duration}.",
                tool.display_name, tool.max_grant
            );
            return Err(CommandError::denied(
                draft(Outcome::Invalid).detail(format!("for {duration}: too long")),
                msg,
            ));
        }
        let grant = StoredGrant {
            principal: self.user.clone(),
            tool: self.tool.clone(),
            granted_by: ctx.caller().clone(),
            granted_at: ctx.now,
            expires_at: ctx.now.plus_secs(duration.secs()),
            reason: self.reason.clone(),
        };
        let previous = admin.access.grant(&self.user, &self.tool).await?;
        admin.access.put_grant(&grant).await?;
        let detail = match &self.reason {
            Some(reason) => format!("for {duration} until {}: {reason}", grant.expires_at),
            None => format!("for {duration} until {}", grant.expires_at),
        };
        if let Err(err) = ctx.audit(draft(Outcome::Ok).detail(detail)).await {
            // An unaudited grant must not stand: put back what was there, unless someone has
            // changed the grant since (then theirs stands, with its own audit record).
            let ours = match admin.access.grant(&self.user, &self.tool).await {
                Ok(current) => current.as_ref() == Some(&grant),
                Err(_) => true,
            };
            let rollback = match (&previous, ours) {
                (_, false) => Ok(()),
                (Some(p), true) => admin.access.put_grant(p).await,
                (None, true) => admin
                    .access
                    .delete_grant(&self.user, &self.tool)
                    .await
                    .map(drop),
            };
            if let Err(e) = rollback {
                tracing::error!(error = %e, "rolling back an unaudited grant failed");
            }
            return Err(err);
        }
        let who = show_user(&self.user, ctx.caller());
        let line = format!(
            "Granted {who} access to {} for {duration}, until {}.",
            tool.display_name, grant.expires_at
        );
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
