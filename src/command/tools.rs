//! `/otp tools`: the tool catalog, for admins and auditors.

use super::ctx::Ctx;
use super::draft::Draft;
use super::error::CommandResult;
use crate::domain::{Action, Outcome};
use crate::reply::Reply;

/// Lists configured tools.
#[derive(Debug)]
pub struct Tools;

impl Tools {
    /// Reads the catalog; the read is audited.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let auditor = ctx.auditor(Action::Tools)?;
        let tools = auditor.access.tools().await?;
        let mut lines: Vec<String> = tools
            .iter()
            .map(|t| {
                let mut rules = String::new();
                if t.rules.approvals_required > 1 {
                    rules.push_str(&format!(
                        ", {} approvals per request",
                        t.rules.approvals_required
                    ));
                }
                if let Some(d) = t.rules.break_glass {
                    rules.push_str(&format!(", break-glass for up to {d}"));
                }
                format!(
                    "`{}` {} (default {}, max {}{rules})",
                    t.name, t.display_name, t.default_grant, t.max_grant
                )
            })
            .collect();
        if lines.is_empty() {
            lines.push(
                "No tools are configured. The operator adds them with `otpbot tool add`.".into(),
            );
        }
        ctx.audit(Draft::new(Action::Tools, Outcome::Ok)).await?;
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}
