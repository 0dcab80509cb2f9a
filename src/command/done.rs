//! `/otp done <tool>`: give up one's own grant early.

use super::args::{parse_tool, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::CommandResult;
use crate::domain::{Action, Outcome, ToolName};
use crate::reply::Reply;
use crate::store::{Change, Effect, Verdict};

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

    /// Deletes the grant and records it in one step.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let draft = |detail| {
            Draft::new(Action::Done, Outcome::Ok)
                .tool(&self.tool)
                .detail(detail)
        };
        let effect = Effect::Change {
            change: Change::DeleteGrant {
                principal: ctx.caller().clone(),
                tool: self.tool.clone(),
            },
            if_unchanged: Some(ctx.event(draft("no grant to end"))),
        };
        let removed = matches!(
            ctx.commit(draft("grant ended by holder"), effect, None)
                .await?,
            Verdict::Done { changed: true }
        );
        let line = if removed {
            format!("Done: your access to `{}` has ended.", self.tool)
        } else {
            format!("You had no access to `{}`.", self.tool)
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
