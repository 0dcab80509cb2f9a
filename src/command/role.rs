//! `/otp role add|remove <@user> admin|auditor|approver <tool>`: admin manages roles.

use super::args::{parse_tool, parse_user, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{Action, Outcome, Principal, Role, ToolName};
use crate::reply::Reply;
use crate::store::{Change, Effect, Verdict};

const USAGE: &str = "/otp role add|remove @user admin|auditor|approver <tool>";

/// Gives or takes away a role.
#[derive(Debug)]
pub struct RoleChange {
    /// Add (`true`) or remove.
    pub add: bool,
    /// Whose role.
    pub user: Principal,
    /// Which role.
    pub role: Role,
    /// The tool, for the per-tool approver role (then `role` is unused).
    pub approver_of: Option<ToolName>,
}

impl RoleChange {
    /// `role add|remove <@user> admin|auditor`
    pub fn parse(args: &mut Args<'_>, caller: &Principal) -> CommandResult<Self> {
        let add = match args
            .require("add or remove", USAGE)?
            .to_ascii_lowercase()
            .as_str()
        {
            "add" => true,
            "remove" => false,
            _ => return Err(CommandError::Usage(format!("Usage: `{USAGE}`"))),
        };
        let user = parse_user(args.require("a user", USAGE)?, caller)?;
        let word = args.require("a role", USAGE)?;
        if word.eq_ignore_ascii_case("approver") {
            let tool = parse_tool(args.require("a tool", USAGE)?)?;
            return Ok(Self {
                add,
                user,
                role: Role::Auditor,
                approver_of: Some(tool),
            });
        }
        let role = Role::parse(word).ok_or_else(|| {
            CommandError::Usage(format!(
                "Roles are admin, auditor and approver <tool>. Usage: `{USAGE}`"
            ))
        })?;
        if user.is_group() {
            return Err(CommandError::Usage(
                "A group can be a tool's approvers (`approver <tool>`), not admin or auditor: \
                 give those roles to people."
                    .into(),
            ));
        }
        Ok(Self {
            add,
            user,
            role,
            approver_of: None,
        })
    }

    /// The audit action.
    pub fn action(&self) -> Action {
        if self.add {
            Action::RoleAdd
        } else {
            Action::RoleRemove
        }
    }

    /// Changes the role and records it in one step.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        if let Some(tool) = self.approver_of.clone() {
            return self.apply_approver(ctx, tool).await;
        }
        ctx.admin(self.action())?;
        let draft = |detail: String| {
            Draft::new(self.action(), Outcome::Ok)
                .subject(&self.user)
                .detail(detail)
        };
        let effect = Effect::Change {
            change: Change::SetRole {
                principal: self.user.clone(),
                role: self.role,
                on: self.add,
            },
            if_unchanged: Some(ctx.event(draft(format!("{} (unchanged)", self.role)))),
        };
        let changed = matches!(
            ctx.commit(draft(self.role.as_str().to_owned()), effect, None)
                .await?,
            Verdict::Done { changed: true }
        );
        let who = show_user(&self.user, ctx.caller());
        let mut lines = vec![match (self.add, changed) {
            (true, true) => format!("{who} is now {}.", self.role),
            (true, false) => format!("{who} already was {}.", self.role),
            (false, true) => format!("{who} is no longer {}.", self.role),
            (false, false) => format!("{who} was not {}.", self.role),
        }];
        if !self.add
            && self.role == Role::Admin
            && ctx.core.policy.bootstrap_admins.contains(&self.user)
        {
            lines.push("They stay admin through the OTPBOT_ADMINS setting.".into());
        }
        Ok(Reply::info(&ctx.request.request_id, lines))
    }

    /// Gives or takes away the approver role for `tool`, recorded in one step.
    async fn apply_approver(self, ctx: &Ctx<'_>, tool: ToolName) -> CommandResult<Reply> {
        let admin = ctx.admin(self.action())?;
        let draft = |detail: String| {
            Draft::new(self.action(), Outcome::Ok)
                .tool(&tool)
                .subject(&self.user)
                .detail(detail)
        };
        if self.add && admin.access.tool(&tool).await?.is_none() {
            return Err(CommandError::denied(
                draft("approver: no such tool".into()).outcome(Outcome::UnknownTool),
                format!("There is no tool called `{tool}`."),
            ));
        }
        let effect = Effect::Change {
            change: Change::SetApprover {
                principal: self.user.clone(),
                tool: tool.clone(),
                on: self.add,
            },
            if_unchanged: Some(ctx.event(draft("approver (unchanged)".into()))),
        };
        let changed = matches!(
            ctx.commit(draft("approver".into()), effect, None).await?,
            Verdict::Done { changed: true }
        );
        let who = show_user(&self.user, ctx.caller());
        let line = match (self.add, changed) {
            (true, true) => format!("{who} now approves requests for `{tool}`."),
            (true, false) => format!("{who} already approved requests for `{tool}`."),
            (false, true) => format!("{who} no longer approves requests for `{tool}`."),
            (false, false) => format!("{who} did not approve requests for `{tool}`."),
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
