//! `/otp done <tool>`: give up one's own grant early.

use super::{parse_tool, Args, CommandResult};
use crate::domain::{Action, Outcome, ToolName};
use crate::engine::{Ctx, Draft};
use crate::reply::Reply;

/// Ends the caller's own grant for a tool.
#[derive(Debug)]
pub struct Done {
    /// The tool.
    pub tool: ToolName,
}

impl Done {
    /// `done <tool>`
    pub fn parse(args: &mut Args<'_>) -> CommandResult<Self> {
        Ok(Self {
            tool: parse_tool(args.require("a tool", "/otp done <tool>")?)?,
        })
    }

    /// Deletes the grant, then audits (losing access needs no rollback).
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let removed = ctx
            .engine
            .stores
            .access
            .delete_grant(ctx.caller(), &self.tool)
            .await?;
        let detail = if removed {
            "grant ended by holder"
        } else {
            "no grant to end"
        };
        ctx.audit(
            Draft::new(Action::Done, Outcome::Ok)
                .tool(&self.tool)
                .detail(detail),
        )
        .await?;
        let line = if removed {
            format!("Done: your access to `{}` has ended.", self.tool)
        } else {
            format!("You had no access to `{}`.", self.tool)
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
