//! The two-person rule: an approval of a request that needs several distinct persons
//! (`otpbot tool set <tool> --approvals-required N`). Each approval is counted in one
//! decision conditioned on the approvals the approver read; the one that completes the count
//! approves the request and makes the grant in that same transaction, for the shortest length
//! any of its approvers chose. Nobody counts twice: an approver whose person (see
//! [`crate::domain::Person`]) already approved is told so and nothing changes, and the
//! requester never counts. When another approval was counted first, the request is read again
//! and the approval decided again, so two approvers clicking at once make one grant with both
//! approvals counted.

use super::approval_message::approval_message;
use super::args::show_user;
use super::ctx::Ctx;
use super::decide::Decide;
use super::error::{CommandError, CommandResult};
use super::request_access::NAME_LIMIT;
use crate::domain::{
    AccessRequest, Approval, Grant, GrantDuration, Outcome, Person, Principal, Tool,
};
use crate::reply::{clean, Audience, Notice, Reply};
use crate::store::{Change, Effect, Verdict};

/// How often an approval is decided again after others were counted first.
const ATTEMPTS: usize = 8;

/// The approvals `request` needs: its own rule, or the tool's if that has since grown.
fn required(request: &AccessRequest, tool: &Tool) -> usize {
    request.approvals_needed(&tool.rules)
}

/// Whether `person` (signed in as `caller`) already approved `request`.
fn approved_before(request: &AccessRequest, caller: &Principal, person: &Person) -> bool {
    request
        .approvals
        .iter()
        .any(|a| &a.by == caller || a.person.may_be(person))
}

/// The grant length the approvals of `request` and `mine` agree on: the shortest.
fn shortest(request: &AccessRequest, mine: GrantDuration) -> GrantDuration {
    request
        .approvals
        .iter()
        .map(|a| a.duration)
        .fold(mine, GrantDuration::min)
}

impl Decide {
    /// Counts the caller's approval of `request` (see the module documentation); one given as a
    /// member of an approver group (`via`) names the group in its record.
    pub(super) async fn count(
        &self,
        ctx: &Ctx<'_>,
        (mut request, via): (AccessRequest, Option<&Principal>),
        tool: &Tool,
        duration: GrantDuration,
    ) -> CommandResult<Reply> {
        let display = tool.display_name.as_str();
        for _ in 0..ATTEMPTS {
            let current = approval_message(&request, display, ctx.now);
            if approved_before(&request, ctx.caller(), ctx.person()) {
                return Err(self.twice(&request, tool).with_approval_message(&current));
            }
            let approval = Approval {
                by: ctx.caller().clone(),
                person: ctx.person().clone(),
                at: ctx.now,
                duration,
                name: ctx.request.name.as_deref().map(|n| clean(n, NAME_LIMIT)),
            };
            let (verdict, grant) = self
                .commit_count(ctx, (&request, via), tool, &approval)
                .await?;
            if verdict == Verdict::Stale {
                let access = ctx.core.stores.access.as_ref();
                request = access
                    .access_request(&self.id)
                    .await?
                    .ok_or_else(|| CommandError::Inconsistent("a counted request went".into()))?;
                continue;
            }
            // A grant kept because it ends later is told with its end, read as it stays.
            let held = match (&grant, &verdict) {
                (Some(g), Verdict::Done { changed: false }) => {
                    let access = ctx.core.stores.access.as_ref();
                    access.grant(&g.principal, &g.tool).await?
                }
                _ => None,
            };
            let completes = grant.is_some();
            let held_until = held.map(|h| h.expires_at);
            let granted = self
                .committed(ctx, (&request, display), verdict, grant, held_until)
                .await?;
            let length = shortest(&request, duration);
            let mut counted = request;
            counted.approvals.push(approval);
            return Ok(if completes {
                self.decided(ctx, &counted, display, length, granted)
            } else {
                self.partly(ctx, &counted, tool)
            });
        }
        Err(CommandError::Inconsistent(
            "an approval kept meeting other approvals".into(),
        ))
    }

    /// Commits `approval` with its record: the grant with it when it completes the count.
    async fn commit_count(
        &self,
        ctx: &Ctx<'_>,
        (request, via): (&AccessRequest, Option<&Principal>),
        tool: &Tool,
        approval: &Approval,
    ) -> CommandResult<(Verdict, Option<Grant>)> {
        let (seen, needed) = (request.approvals.len(), required(request, tool));
        let length = shortest(request, approval.duration);
        let grant = (seen + 1 >= needed).then(|| self.grant(ctx, request, length));
        let count = format!("approval {} of {needed}", seen + 1);
        let (detail, kept) = match &grant {
            Some(g) => (
                format!("{count}; for {length} until {}", g.expires_at),
                Some(format!(
                    "{count}; for {length}; the requester's grant stays, as it ends later"
                )),
            ),
            None => (format!("{count} for {}", approval.duration), None),
        };
        let member = via
            .map(|group| format!("; as a member of group {group}"))
            .unwrap_or_default();
        let why = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let why = format!("{member}{why}");
        let effect = Effect::Change {
            change: Change::CountApproval {
                id: self.id.clone(),
                requester: request.requester.clone(),
                tool: request.tool.clone(),
                approval: approval.clone(),
                seen,
                grant: grant.clone(),
            },
            if_unchanged: kept
                .map(|kept| ctx.event(self.draft(request, Outcome::Ok, &format!("{kept}{why}")))),
        };
        let draft = self.draft(request, Outcome::Ok, &format!("{detail}{why}"));
        let verdict = ctx.commit(draft, effect, None).await?;
        Ok((verdict, grant))
    }

    /// The refusal of a second approval by the same person: nothing changes.
    fn twice(&self, request: &AccessRequest, tool: &Tool) -> CommandError {
        let (have, needed) = (request.approvals.len(), required(request, tool));
        CommandError::denied(
            self.draft(request, Outcome::Invalid, "approved twice by one person"),
            format!(
                "You already approved this request ({have} of {needed} approvals); another \
                 approver must approve it too. Nothing changed."
            ),
        )
    }

    /// The reply to an approval that did not complete the count: the caller's answer, the
    /// request's message with the count, and the requester told how far it got.
    fn partly(&self, ctx: &Ctx<'_>, request: &AccessRequest, tool: &Tool) -> Reply {
        let (have, needed) = (request.approvals.len(), required(request, tool));
        let display = &tool.display_name;
        let who = show_user(&request.requester, ctx.caller());
        let by = show_user(ctx.caller(), &request.requester);
        let line = format!(
            "Approved: {have} of {needed} approvals for {who}'s {display} request; it waits for \
             another approver."
        );
        let mut reply = Reply::info(&ctx.request.request_id, vec![line]).with_notice(Notice {
            to: Audience::Person(request.requester.clone()),
            lines: vec![format!(
                "{by} approved your {display} access request (request `{}`): {have} of \
                 {needed} approvals.",
                self.id
            )],
            buttons: Vec::new(),
        });
        let mut message = approval_message(request, display, ctx.now);
        // The copy clicked shows the count at once, replaced as a settled one is.
        message.settled = true;
        reply.follow_ups.approval_message = Some(message);
        reply
    }
}
