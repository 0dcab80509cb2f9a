//! `/otp who <tool>`: current holders, for admins and auditors.

use super::args::{parse_tool, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::CommandResult;
use crate::domain::{Action, Outcome, ToolName};
use crate::reply::Reply;

/// Lists who holds a valid grant for a tool.
#[derive(Debug)]
pub struct Who {
    /// The tool.
    pub tool: ToolName,
}

impl Who {
    /// `who <tool>`
    pub fn parse(args: &mut Args<'_>) -> CommandResult<Self> {
        Ok(Self {
            tool: parse_tool(args.require("a tool", "/otp who <tool>")?)?,
        })
    }

    /// Reads active grants; the read itself is audited.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let auditor = ctx.auditor(Action::Who)?;
        let holders = auditor.access.holders(&self.tool).await?;
        let mut lines: Vec<String> = holders
            .iter()
            .filter(|g| g.is_active(ctx.now))
            .map(|g| {
                let reason = g
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let by = show_user(&g.granted_by, ctx.caller());
                format!(
                    "{} until {}, granted by {by}{reason}",
                    show_user(&g.principal, ctx.caller()),
                    g.expires_at
                )
            })
            .collect();
        lines.insert(
            0,
            format!("{} current holder(s) of `{}`:", lines.len(), self.tool),
        );
        ctx.audit(Draft::new(Action::Who, Outcome::Ok).tool(&self.tool))
            .await?;
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}
