//! Slack user groups' members, for grants and approver roles held by a group:
//! `usergroups.users.list` with the bot token (scope `usergroups:read`), which takes its
//! arguments form-encoded only and answers `{"ok": true, "users": ["U…", "W…"]}` (Slack,
//! <https://api.slack.com/methods/usergroups.users.list>). `team_id` names the group's
//! workspace, as an org-wide token on Enterprise Grid needs.
//!
//! User groups exist on paid plans only: a workspace without them answers
//! `plan_upgrade_required` (older answers say `paid_teams_only`), which the caller hears as a
//! clear refusal. Errors Slack documents for the method and for every method
//! (<https://docs.slack.dev/apis/web-api/#errors>) are told apart from failures to reach it.

use async_trait::async_trait;

use super::web::{WebApi, WebApiError};
use crate::domain::{Platform, Principal};
use crate::engine::{GroupError, Membership};

/// The words a caller reads for one of Slack's refusals; `None` for a failure worth a retry.
fn refusal(error: &str) -> Option<String> {
    Some(match error {
        "plan_upgrade_required" | "paid_teams_only" | "paid_only" => {
            "this Slack workspace has no user groups (they need a paid Slack plan)".into()
        }
        "no_such_subteam" => "Slack knows no such user group in this workspace".into(),
        "missing_scope" => {
            "otpbot's Slack app lacks the usergroups:read scope: reinstall it from the manifest"
                .into()
        }
        "not_allowed_token_type"
        | "invalid_auth"
        | "not_authed"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "access_denied"
        | "team_access_not_granted"
        | "ekm_access_denied" => {
            format!("Slack refused otpbot's token ({error})")
        }
        _ => return None,
    })
}

#[async_trait]
impl Membership for WebApi {
    async fn members(&self, group: &Principal) -> Result<Vec<String>, GroupError> {
        if group.platform() != Platform::SlackGroup {
            return Err(GroupError::Refused(format!(
                "`{group}` is not a Slack user group"
            )));
        }
        let form = [("usergroup", group.user()), ("team_id", group.workspace())];
        let answer = match self.call_form_once("usergroups.users.list", &form).await {
            Ok(answer) => answer,
            Err(WebApiError::Refused { error, .. }) => {
                return Err(match refusal(&error) {
                    Some(why) => GroupError::Refused(why),
                    None => GroupError::Unavailable(format!("Slack answered {error}")),
                })
            }
            Err(WebApiError::RateLimited(_)) => {
                return Err(GroupError::Unavailable(
                    "Slack is rate limiting otpbot".into(),
                ))
            }
            Err(WebApiError::Http(_)) => {
                return Err(GroupError::Unavailable("Slack could not be reached".into()))
            }
        };
        let users = answer["users"]
            .as_array()
            .ok_or_else(|| GroupError::Unavailable("Slack's answer had no users".into()))?;
        Ok(users
            .iter()
            .filter_map(|u| u.as_str())
            .map(str::to_owned)
            .collect())
    }
}
