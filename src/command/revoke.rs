//! `/otp revoke <@user> <tool>`: admin takes access away.

use super::{parse_tool, parse_user, show_user, Args, CommandResult};
use crate::domain::{Action, Outcome, Principal, ToolName};
use crate::engine::{Ctx, Draft};
use crate::reply::Reply;

const USAGE: &str = "/otp revoke @user <tool>";

/// Revokes a user's grant.
#[derive(Debug)]
pub struct Revoke {
    /// Whose grant.
    pub user: Principal,
    /// For which tool.
    pub tool: ToolName,
}

impl Revoke {
    /// `revoke <@user> <tool>`
    pub fn parse(args: &mut Args<'_>, caller: &Principal) -> CommandResult<Self> {
        let user = parse_user(args.require("a user", USAGE)?, caller)?;
        let tool = parse_tool(args.require("a tool", USAGE)?)?;
        Ok(Self { user, tool })
    }

    /// Deletes the grant, then audits (taking access away needs no rollback).
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let admin = ctx.admin(Action::Revoke)?;
        let removed = admin.access.delete_grant(&self.user, &self.tool).await?;
        let detail = if removed {
            "grant revoked"
        } else {
            "no grant to revoke"
        };
        ctx.audit(
            Draft::new(Action::Revoke, Outcome::Ok)
                .tool(&self.tool)
                .subject(&self.user)
                .detail(detail),
        )
        .await?;
        let who = show_user(&self.user, ctx.caller());
        let line = if removed {
            format!("Revoked {who}'s access to `{}`.", self.tool)
        } else {
            format!("{who} had no access to `{}`.", self.tool)
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
