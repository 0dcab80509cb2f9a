//! Groups as subjects of grants and approver roles: a Slack user group or an Entra ID group
//! (a group [`Principal`]) holds a grant or a tool's approver role like a user, and each of its
//! members has what the group has for as long as they are in it.
//!
//! Membership comes from the platform ([`Membership`](super::Membership), implemented by the Slack and Teams
//! clients) through the core's [`Groups`](super::Groups), which keeps an answer at most `OTPBOT_GROUP_CACHE`.
//! Every look-up here runs before the request's decision and never inside its transaction;
//! the decision then re-checks the group's grant. A look-up that fails refuses (fail closed):
//! no code, no approval, and the caller is told why, privately.

use super::core::Core;
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use super::group_mention::show_group;
use super::membership::GroupError;
use crate::domain::{Grant, Principal, Timestamp, ToolName};

/// Most groups looked up for one request: a tool granted to more groups than this is checked
/// on its longest-lasting grants first.
const MAX_GROUPS: usize = 10;

/// What was asked of a group look-up that failed: the refusal to audit as `draft`.
fn lookup_failed(draft: Draft, group: &Principal, err: &GroupError, what: &str) -> CommandError {
    let message = format!(
        "otpbot could not check your membership of {} just now ({err}), so {what}. Try again \
         in a minute, or ask an admin.",
        show_group(group)
    );
    CommandError::denied(
        draft
            .subject(group)
            .detail(format!("group look-up failed: {err}")),
        message,
    )
}

/// Of `holders`, the active grants of groups the caller could be a member of (their own
/// workspace's or tenant's), longest-lasting first, at most [`MAX_GROUPS`].
fn candidates(ctx: &Ctx<'_>, holders: Vec<Grant>) -> Vec<Grant> {
    let mut grants: Vec<Grant> = holders
        .into_iter()
        .filter(|g| g.principal.may_contain(ctx.caller()) && g.is_active(ctx.now))
        .collect();
    grants.sort_by_key(|g| std::cmp::Reverse(g.expires_at));
    grants.truncate(MAX_GROUPS);
    grants
}

/// The active grant for `tool` the caller holds through a group they are a member of at the
/// request's time, if any (the longest-lasting one). A failed look-up refuses, audited as
/// `draft`, unless another group already answered yes.
pub async fn grant_via_group(
    ctx: &Ctx<'_>,
    tool: &ToolName,
    draft: &Draft,
) -> CommandResult<Option<Grant>> {
    let caller = ctx.caller();
    let grants = candidates(ctx, ctx.core.stores().access.holders(tool).await?);
    let mut failed = None;
    for grant in grants {
        match ctx
            .core
            .groups()
            .contains(&grant.principal, caller, ctx.now)
            .await
        {
            Ok(true) => return Ok(Some(grant)),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(group = %grant.principal, error = %e, "group look-up failed");
                failed.get_or_insert((grant.principal, e));
            }
        }
    }
    match failed {
        Some((group, e)) => Err(lookup_failed(
            draft.clone(),
            &group,
            &e,
            "no code was issued",
        )),
        None => Ok(None),
    }
}

/// The group through which the caller is an approver of `tool`, if any. A failed look-up
/// refuses, audited as `draft`, unless another group already answered yes.
pub async fn approver_via_group(
    ctx: &Ctx<'_>,
    tool: &ToolName,
    draft: &Draft,
) -> CommandResult<Option<Principal>> {
    let caller = ctx.caller();
    let mut groups: Vec<Principal> = ctx
        .core
        .stores()
        .access
        .approvers(tool)
        .await?
        .into_iter()
        .filter(|p| p.may_contain(caller))
        .collect();
    groups.truncate(MAX_GROUPS);
    let mut failed = None;
    for group in groups {
        match ctx.core.groups().contains(&group, caller, ctx.now).await {
            Ok(true) => return Ok(Some(group)),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(group = %group, error = %e, "group look-up failed");
                failed.get_or_insert((group, e));
            }
        }
    }
    match failed {
        Some((group, e)) => Err(lookup_failed(
            draft.clone(),
            &group,
            &e,
            "your decision was not taken",
        )),
        None => Ok(None),
    }
}

/// `people` with each group of the caller's platform replaced by its members as the
/// platform says now: how the approvers of a tool without an approvals channel are told. A
/// group that cannot be read is left out (logged); its members are not told.
pub async fn with_members(
    core: &Core,
    caller: &Principal,
    now: Timestamp,
    people: Vec<Principal>,
) -> Vec<Principal> {
    let mut out = Vec::with_capacity(people.len());
    for person in people {
        if !person.is_group() {
            out.push(person);
            continue;
        }
        if person.platform().members_on() != Some(caller.platform()) {
            continue;
        }
        match core.groups().members(&person, now).await {
            Ok(members) => {
                out.extend(members.iter().filter_map(|id| {
                    Principal::new(caller.platform(), person.workspace(), id).ok()
                }));
            }
            Err(e) => {
                tracing::warn!(group = %person, error = %e, "group members not read; not told")
            }
        }
    }
    out
}

/// The caller's active grants held through groups they are a member of now, by tool (for
/// `list`). A group that cannot be read is skipped, as `list` decides nothing.
pub async fn grants_via_groups(ctx: &Ctx<'_>) -> CommandResult<Vec<Grant>> {
    let access = ctx.core.stores().access.as_ref();
    let caller = ctx.caller();
    let mut found = Vec::new();
    for tool in access.tools().await? {
        for grant in candidates(ctx, access.holders(&tool.name).await?) {
            let groups = ctx.core.groups();
            if groups.contains(&grant.principal, caller, ctx.now).await == Ok(true) {
                found.push(grant);
                break;
            }
        }
    }
    Ok(found)
}
