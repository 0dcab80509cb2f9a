//! `/otp list`: the caller's tools and when each grant ends.

use super::args::show_user;
use super::ctx::Ctx;
use super::error::CommandResult;
use super::groups::grants_via_groups;
use crate::reply::Reply;

/// Lists the caller's active grants.
#[derive(Debug)]
pub struct List;

impl List {
    /// Reads the caller's own grants, and those held through the groups they are in now;
    /// expired ones are not shown.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let grants = ctx.core.stores.access.grants_for(ctx.caller()).await?;
        let mut lines: Vec<String> = grants
            .iter()
            .filter(|g| g.is_active(ctx.now))
            .map(|g| format!("`{}` until {}", g.tool, g.expires_at))
            .collect();
        let own: Vec<_> = grants
            .iter()
            .filter(|g| g.is_active(ctx.now))
            .map(|g| &g.tool)
            .collect();
        for g in grants_via_groups(ctx).await? {
            if !own.contains(&&g.tool) {
                let group = show_user(&g.principal, ctx.caller());
                lines.push(format!(
                    "`{}` until {}, as a member of {group}",
                    g.tool, g.expires_at
                ));
            }
        }
        if lines.is_empty() {
            lines.push("You have no tools right now. Ask an admin for access.".into());
        } else {
            lines.insert(0, "Your tools:".into());
        }
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}
