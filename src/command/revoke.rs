//! `/otp revoke <@user> <tool>`: admin takes access away.

use super::args::{parse_tool, parse_user, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::CommandResult;
use crate::domain::{Action, Outcome, Principal, ToolName};
use crate::reply::Reply;
use crate::store::{Change, Effect, Verdict};

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

    /// Deletes the grant and records it in one step.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        ctx.admin(Action::Revoke)?;
        let draft = |detail| {
            Draft::new(Action::Revoke, Outcome::Ok)
                .tool(&self.tool)
                .subject(&self.user)
                .detail(detail)
        };
        let effect = Effect::Change {
            change: Change::DeleteGrant {
                principal: self.user.clone(),
                tool: self.tool.clone(),
            },
            if_unchanged: Some(ctx.event(draft("no grant to revoke"))),
        };
        let removed = matches!(
            ctx.commit(draft("grant revoked"), effect, None).await?,
            Verdict::Done { changed: true }
        );
        let who = show_user(&self.user, ctx.caller());
        let line = if removed {
            format!("Revoked {who}'s access to `{}`.", self.tool)
        } else {
            format!("{who} had no access to `{}`.", self.tool)
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
