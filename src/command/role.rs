//! `/otp role add|remove <@user> admin|auditor`: admin manages roles.

use super::{parse_user, show_user, Args, CommandError, CommandResult};
use crate::domain::{Action, Outcome, Principal, Role};
use crate::engine::{Ctx, Draft};
use crate::reply::Reply;
use crate::store::{Change, Effect, Verdict};

const USAGE: &str = "/otp role add|remove @user admin|auditor";

/// Gives or takes away a role.
#[derive(Debug)]
pub struct RoleChange {
    /// Add (`true`) or remove.
    pub add: bool,
    /// Whose role.
    pub user: Principal,
    /// Which role.
    pub role: Role,
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
        let role = Role::parse(args.require("a role", USAGE)?).ok_or_else(|| {
            CommandError::Usage(format!("Roles are admin and auditor. Usage: `{USAGE}`"))
        })?;
        Ok(Self { add, user, role })
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
            && ctx.engine.policy.bootstrap_admins.contains(&self.user)
        {
            lines.push("They stay admin through the OTPBOT_ADMINS setting.".into());
        }
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}
