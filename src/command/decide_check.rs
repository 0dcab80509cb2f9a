//! Who may decide an access request, and what a decision that may not be made is told: never
//! the requester (as a person), only admins and the tool's approvers (directly or as members of
//! an approver group), only while the request is open.

use super::args::show_named;
use super::ctx::Ctx;
use super::decide::Decide;
use super::error::{CommandError, CommandResult};
use super::groups::approver_via_group;
use crate::domain::{AccessRequest, Outcome, Principal, RequestState};

impl Decide {
    /// What a later decision is told about an earlier one: who decided, by the display name
    /// their platform gave (kept with the request, or with their counted approval).
    pub(super) fn already(request: &AccessRequest, viewer: &Principal) -> String {
        let named = |by: &Principal| {
            let counted = request.approvals.iter().find(|a| &a.by == by);
            let name = request
                .decided_by_name
                .as_deref()
                .or_else(|| counted.and_then(|a| a.name.as_deref()));
            show_named(by, name, viewer)
        };
        match &request.state {
            RequestState::Approved { by, at } => {
                format!("Already approved by {} at {at}.", named(by))
            }
            RequestState::Denied { by, at } => format!("Already denied by {} at {at}.", named(by)),
            RequestState::Open => "This request is still open.".into(),
        }
    }

    /// Refuses a decision by the requester (as a person), by someone who is neither admin nor
    /// the tool's approver (directly or as a member of an approver group), or on a request that
    /// is no longer open. The group the caller decides as a member of, if that is how.
    pub(super) async fn check(
        &self,
        ctx: &Ctx<'_>,
        request: &AccessRequest,
    ) -> CommandResult<Option<Principal>> {
        if &request.requester == ctx.caller() || request.requester_person.may_be(ctx.person()) {
            return Err(CommandError::denied(
                self.draft(request, Outcome::Forbidden, "self-approval refused"),
                "Nobody approves their own request. Another approver will decide.",
            ));
        }
        let access = ctx.core.stores.access.as_ref();
        let failed = self.draft(request, Outcome::Error, "approver group look-up failed");
        let direct = ctx.roles.admin || access.is_approver(ctx.caller(), &request.tool).await?;
        let via = match direct {
            true => None,
            false => approver_via_group(ctx, &request.tool, &failed).await?,
        };
        if !direct && via.is_none() {
            return Err(CommandError::denied(
                self.draft(request, Outcome::Forbidden, "not an approver"),
                "Only admins and the tool's approvers can decide requests.",
            ));
        }
        if request.state != RequestState::Open {
            return Err(self.decided_before(request, ctx.caller()));
        }
        if !request.is_open(ctx.now) {
            return Err(self.expired(request));
        }
        Ok(via)
    }

    pub(super) fn decided_before(
        &self,
        request: &AccessRequest,
        viewer: &Principal,
    ) -> CommandError {
        let detail = format!("already {}", request.state.as_str());
        CommandError::denied(
            self.draft(request, Outcome::Invalid, &detail),
            Self::already(request, viewer),
        )
    }

    pub(super) fn expired(&self, request: &AccessRequest) -> CommandError {
        let detail = format!("expired at {}", request.expires_at);
        CommandError::denied(
            self.draft(request, Outcome::Expired, &detail),
            format!("This request expired at {} undecided.", request.expires_at),
        )
    }
}
