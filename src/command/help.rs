//! `/otp` or `/otp help`: usage, and the caller's tools.

use super::ctx::Ctx;
use super::error::CommandResult;
use crate::reply::Reply;

/// Shows usage.
#[derive(Debug)]
pub struct Help;

/// Usage lines, by role.
pub fn usage_lines(admin: bool, auditor: bool) -> Vec<String> {
    let mut lines = vec![
        "`/otp <tool>` your current code for <tool>".to_owned(),
        "`/otp list` your tools and when each grant ends".to_owned(),
        "`/otp done <tool>` give up your access early".to_owned(),
        "`/otp request <tool> [for 2h] [reason]` ask the tool's approvers for access".to_owned(),
        "`/otp approve|deny <request> [reason]` decide a request (approvers; some tools need \
         two or more)"
            .to_owned(),
        "`/otp break-glass <tool> <reason>` in an incident, take access at once where the tool \
         allows it; its approvers are told and review it"
            .to_owned(),
        "`/otp review <break-glass> ok|revoke [reason]` review a break-glass (approvers)"
            .to_owned(),
    ];
    if admin {
        lines.push(
            "`/otp grant @user <tool> [for 8h] [reason]` grant access (30m, 8h, 7d, 2w)".into(),
        );
        lines.push("`/otp revoke @user <tool>` take access away".into());
        lines
            .push("`/otp role add|remove @user admin|auditor|approver <tool>` manage roles".into());
    }
    if admin || auditor {
        lines.push("`/otp who <tool>` current holders · `/otp tools` configured tools".into());
        lines.push("`/otp audit [<tool>|@user] [since 7d]` latest events".into());
    }
    lines
}

impl Help {
    /// Lists the commands the caller may use and the tools they hold.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let mut lines = usage_lines(ctx.roles.admin, ctx.roles.auditor);
        let grants = ctx.core.stores.access.grants_for(ctx.caller()).await?;
        let active: Vec<_> = grants
            .iter()
            .filter(|g| g.is_active(ctx.now))
            .map(|g| g.tool.as_str())
            .collect();
        lines.push(if active.is_empty() {
            "You have no tools yet: ask an admin for access.".to_owned()
        } else {
            format!("Your tools: {}", active.join(", "))
        });
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}
