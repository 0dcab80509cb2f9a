//! `/otp <tool>`: the current code, for a caller with a valid grant.

use super::{CommandError, CommandResult};
use crate::domain::{Action, Outcome, ToolName};
use crate::engine::{Ctx, Draft};
use crate::reply::{CodeCard, Reply, Tone};

/// Asks for the current code of a tool.
#[derive(Debug)]
pub struct Code {
    /// The tool.
    pub tool: ToolName,
}

impl Code {
    /// Authorizes, reads the seed, audits, and only then returns the code (SPEC §3.4, §3.5).
    #[tracing::instrument(skip_all, fields(tool = %self.tool))]
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let stores = &ctx.engine.stores;
        let draft = |outcome| Draft::new(Action::Code, outcome).tool(&self.tool);
        let Some(tool) = stores.access.tool(&self.tool).await? else {
            return Err(CommandError::denied(
                draft(Outcome::UnknownTool),
                format!(
                    "There is no tool called `{}`. Type `/otp list` to see yours.",
                    self.tool
                ),
            ));
        };
        let ask = "Ask an admin for access";
        let grant = match stores.access.grant(ctx.caller(), &self.tool).await? {
            None => {
                let msg = format!("You have no access to {}. {ask}.", tool.display_name);
                return Err(CommandError::denied(draft(Outcome::NoGrant), msg));
            }
            Some(g) if !g.is_active(ctx.now) => {
                let msg = format!(
                    "Your access to {} ended at {}. {ask} again.",
                    tool.display_name, g.expires_at
                );
                return Err(CommandError::denied(draft(Outcome::Expired), msg));
            }
            Some(g) => g,
        };
        let scope = format!("tool:{}:{}", ctx.caller(), self.tool);
        if !ctx
            .engine
            .within_rate(&scope, ctx.engine.policy.per_tool, ctx.now)
            .await?
        {
            let msg = format!(
                "Too many codes for {} in a short time. Wait a few minutes and try again.",
                tool.display_name
            );
            return Err(CommandError::denied(
                draft(Outcome::RateLimited).detail("per-tool limit"),
                msg,
            ));
        }
        let seed =
            stores.secrets.seed(&self.tool).await?.ok_or_else(|| {
                CommandError::Inconsistent(format!("tool {} has no seed", self.tool))
            })?;
        let issue = seed.issue(ctx.now);
        drop(seed);
        let route = ctx
            .request
            .delivery
            .as_deref()
            .map(|d| format!("; via {d}"))
            .unwrap_or_default();
        let mut record =
            draft(Outcome::Issued).detail(format!("valid {} s{route}", issue.valid_for_secs));
        // Both codes the caller sees are fingerprinted, so either can be traced back here.
        let mut macs = vec![ctx.engine.audit_key.mac(&self.tool, &issue.code)];
        macs.extend(
            issue
                .next
                .iter()
                .map(|next| ctx.engine.audit_key.mac(&self.tool, next)),
        );
        record.code_mac = Some(macs.join(","));
        ctx.audit(record).await?;
        tracing::info!(outcome = "issued", "code issued");
        Ok(Reply {
            tone: Tone::Info,
            lines: vec![format!("Your access ends at {}.", grant.expires_at)],
            code: Some(CodeCard {
                tool_display: tool.display_name,
                code: issue.code,
                valid_for_secs: issue.valid_for_secs,
                next: issue.next,
            }),
            request_id: ctx.request.request_id.clone(),
        })
    }
}
