//! `/otp review <id> ok|revoke [reason…]`, typed or clicked ("Looks right", "Revoke" on the
//! break-glass notice): an approver of the tool (or an admin) reviews a break-glass once;
//! `revoke` ends its grant in the same transaction. Both are audited (action `review`).
//! Nobody reviews their own break-glass (persons are compared), and a second review is told
//! who reviewed it first.

use super::args::{shorten, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{AccessRequestId, Action, BreakGlass, Outcome, Principal, Review as Given};
use crate::reply::{ApprovalMessage, Audience, Button, Notice, Reply};
use crate::store::{Change, Effect, Verdict};

const USAGE: &str = "/otp review <break-glass id> ok|revoke [reason]";

/// The notice about `glass` (of the tool called `display`) as it stands: who broke the glass
/// on what and why, until when, and the review buttons; once reviewed, how, without buttons.
pub(super) fn notice(glass: &BreakGlass, display: &str) -> ApprovalMessage {
    let breaker = &glass.breaker;
    let id = &glass.id;
    let said = format!(
        "{} broke the glass on {display}: {}",
        show_user(breaker, breaker),
        glass.reason
    );
    let Some(given) = &glass.review else {
        return ApprovalMessage {
            request: id.clone(),
            lines: vec![
                said,
                format!(
                    "Access until {} (break-glass `{id}`). Review it: `/otp review {id} ok` or \
                     `/otp review {id} revoke`.",
                    glass.until
                ),
            ],
            buttons: vec![
                Button::Review(id.clone(), true),
                Button::Review(id.clone(), false),
            ],
            settled: false,
        };
    };
    let how = if given.ok { "looks right" } else { "revoked" };
    let why = given
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    ApprovalMessage {
        request: id.clone(),
        lines: vec![
            said,
            format!(
                "Reviewed by {} at {}: {how}{why}.",
                show_user(&given.by, breaker),
                given.at
            ),
        ],
        buttons: Vec::new(),
        settled: true,
    }
}

/// Reviews a break-glass.
#[derive(Debug)]
pub struct Review {
    /// Which break-glass.
    pub id: AccessRequestId,
    /// It looked right (`true`), or its grant is revoked.
    pub ok: bool,
    /// Why, as typed.
    pub reason: Option<String>,
}

impl Review {
    /// `review <id> ok|revoke [reason…]`
    pub fn parse(args: &mut Args<'_>) -> CommandResult<Self> {
        let word = args.require("a break-glass id", USAGE)?;
        let id = AccessRequestId::parse(word).ok_or_else(|| {
            CommandError::Usage(format!(
                "`{}` is not a break-glass id. Usage: `{USAGE}`",
                shorten(word)
            ))
        })?;
        let ok = match args
            .require("ok or revoke", USAGE)?
            .to_ascii_lowercase()
            .as_str()
        {
            "ok" => true,
            "revoke" => false,
            other => {
                return Err(CommandError::Usage(format!(
                    "`{}` is neither `ok` nor `revoke`. Usage: `{USAGE}`",
                    shorten(other)
                )))
            }
        };
        let (_, reason) = Args::new(&args.rest()).duration_and_reason(USAGE)?;
        Ok(Self { id, ok, reason })
    }

    fn draft(&self, glass: Option<&BreakGlass>, outcome: Outcome, detail: &str) -> Draft {
        let mut draft = Draft::new(Action::Review, outcome);
        if let Some(g) = glass {
            draft = draft.tool(&g.tool).subject(&g.breaker);
        }
        draft.detail(format!("break-glass {}: {detail}", self.id))
    }

    fn verdict_word(&self) -> &'static str {
        if self.ok {
            "ok"
        } else {
            "revoke"
        }
    }

    /// Checks who reviews, then commits the review (and a revocation) with its record.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let access = ctx.core.stores.access.as_ref();
        let Some(glass) = access.break_glass(&self.id).await? else {
            return Err(CommandError::denied(
                self.draft(None, Outcome::Invalid, "none"),
                format!("There is no break-glass `{}`.", self.id),
            ));
        };
        let display = match access.tool(&glass.tool).await? {
            Some(tool) => tool.display_name,
            None => glass.tool.to_string(),
        };
        let current = notice(&glass, &display);
        let refused = |err: CommandError| err.with_approval_message(&current);
        if &glass.breaker == ctx.caller() || glass.person.may_be(ctx.person()) {
            return Err(refused(CommandError::denied(
                self.draft(Some(&glass), Outcome::Forbidden, "own break-glass"),
                "Nobody reviews their own break-glass. Another approver will.",
            )));
        }
        if !(ctx.roles.admin || access.is_approver(ctx.caller(), &glass.tool).await?) {
            return Err(refused(CommandError::denied(
                self.draft(Some(&glass), Outcome::Forbidden, "not an approver"),
                "Only admins and the tool's approvers can review a break-glass.",
            )));
        }
        if let Some(given) = &glass.review {
            return Err(refused(self.reviewed_before(&glass, given, ctx.caller())));
        }
        let review = Given {
            by: ctx.caller().clone(),
            at: ctx.now,
            ok: self.ok,
            reason: self.reason.clone(),
        };
        let reviewed = BreakGlass {
            review: Some(review.clone()),
            ..glass.clone()
        };
        let why = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let detail = format!("{}{why}", self.verdict_word());
        let effect = Effect::Change {
            change: Change::ReviewBreakGlass {
                id: self.id.clone(),
                review,
                revoke: (!self.ok).then(|| (glass.breaker.clone(), glass.tool.clone())),
            },
            if_unchanged: None,
        };
        let draft = self.draft(Some(&glass), Outcome::Ok, &detail);
        match ctx.commit(draft, effect, None).await? {
            Verdict::Done { .. } => Ok(self.reviewed(ctx, &reviewed, &display)),
            Verdict::Decided => {
                let now = access.break_glass(&self.id).await?;
                match now.as_ref().and_then(|g| g.review.as_ref().map(|r| (g, r))) {
                    Some((g, given)) => Err(self
                        .reviewed_before(g, given, ctx.caller())
                        .with_approval_message(&notice(g, &display))),
                    None => Err(CommandError::Inconsistent(
                        "a review without a review".into(),
                    )),
                }
            }
            Verdict::NoRequest => Err(CommandError::denied(
                self.draft(None, Outcome::Invalid, "none"),
                format!("There is no break-glass `{}`.", self.id),
            )),
            other => Err(CommandError::Inconsistent(format!("a review: {other:?}"))),
        }
    }

    /// What a later review is told about the first one.
    fn reviewed_before(
        &self,
        glass: &BreakGlass,
        given: &Given,
        viewer: &Principal,
    ) -> CommandError {
        let how = if given.ok {
            "found it right"
        } else {
            "revoked it"
        };
        CommandError::denied(
            self.draft(Some(glass), Outcome::Invalid, "already reviewed"),
            format!(
                "This break-glass was already reviewed: {} {how} at {}.",
                show_user(&given.by, viewer),
                given.at
            ),
        )
    }

    /// The reply: the caller's answer, the notice clicked settled, and the breaker told.
    fn reviewed(&self, ctx: &Ctx<'_>, glass: &BreakGlass, display: &str) -> Reply {
        let who = show_user(&glass.breaker, ctx.caller());
        let by = show_user(ctx.caller(), &glass.breaker);
        let why = self
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let (line, told) = if self.ok {
            (
                format!("Reviewed: {who}'s break-glass on {display} looks right."),
                format!(
                    "{by} reviewed your break-glass `{}`: it looks right{why}.",
                    self.id
                ),
            )
        } else {
            (
                format!("Revoked: {who}'s break-glass access to {display} has ended."),
                format!(
                    "{by} reviewed your break-glass `{}` and revoked it{why}: your access has \
                     ended.",
                    self.id
                ),
            )
        };
        let mut reply = Reply::info(&ctx.request.request_id, vec![line]).with_notice(Notice {
            to: Audience::Person(glass.breaker.clone()),
            lines: vec![told],
            buttons: Vec::new(),
        });
        reply.follow_ups.approval_message = Some(notice(glass, display));
        reply
    }
}
