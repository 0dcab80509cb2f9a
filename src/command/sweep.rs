//! The sweep: what otpbot does on its own as time passes, run on a schedule (`otpbot serve`
//! every `OTPBOT_SWEEP_EVERY`, a scheduled invocation on AWS, or `otpbot sweep`):
//!
//! - an open request undecided after [`Policy::remind_after_secs`](super::Policy) reminds its
//!   approvers, once;
//! - a request that expired undecided has every copy of its approval message updated
//!   ("Expired undecided at …", no buttons) and its requester told, once;
//! - a grant's holder is warned [`Policy::expiry_notice_secs`](super::Policy) before it ends,
//!   once per grant, with a "Request more time" button.
//!
//! Each is marked done by a conditional write ([`Change::Mark`]) committed with its audit
//! record, before its message goes out: of two sweeps that overlap, only one marks an item,
//! and only that one sends its message. The sweep says what to send as [`FollowUps`], which
//! the front ends deliver; it never talks to a platform. A failed store call stops nothing but
//! its item: what was not marked is done by the next sweep, what was marked is never repeated.

use super::approval_message::{approval_buttons, approval_message, asking_lines};
use super::core::{ChatRequest, Core};
use super::draft::Draft;
use super::request_access::approver_audiences;
use crate::domain::{
    AccessRequestId, Action, Grant, MessageRef, Outcome, Person, Platform, Principal, RequestId,
    SweepMark, Timestamp, ToolName,
};
use crate::reply::{Audience, Button, FollowUps, Notice};
use crate::store::{
    Change, Decision, DecisionView, Effect, StoreError, StoreResult, SweptRequest, Verdict,
};

/// Who the sweep's records name as their actor.
pub const SWEEPER: &str = "cli:otpbot:sweep";

/// How far back the sweep looks for requests that expired undecided: one that expired longer
/// ago (otpbot was down, or the request predates the sweep) is left alone.
const LOOK_BACK_SECS: i64 = 86_400;

/// What one sweep did, and what it says to send.
#[derive(Debug, Default)]
pub struct Swept {
    /// What to send, one entry per item marked, with the id its records carry.
    pub follow_ups: Vec<(RequestId, FollowUps)>,
    /// Requests whose approvers are reminded.
    pub reminded: usize,
    /// Requests told expired.
    pub expired: usize,
    /// Holders warned.
    pub warned: usize,
    /// Items another sweep had marked first.
    pub already: usize,
    /// Items that failed (store errors): left for the next sweep.
    pub failed: usize,
}

/// One item the sweep found to do.
enum Item {
    Remind(SweptRequest),
    Expire(SweptRequest),
    Warn(Grant),
}

/// Runs one sweep at `now` (see the module documentation).
pub async fn sweep(core: &Core, now: Timestamp) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for item in due(core, now).await? {
        let request_id = RequestId::new();
        match run(core, now, &request_id, item).await {
            Ok(Some((kind, follow_ups))) => {
                match kind {
                    Action::Remind => swept.reminded += 1,
                    Action::RequestExpire => swept.expired += 1,
                    _ => swept.warned += 1,
                }
                swept.follow_ups.push((request_id, follow_ups));
            }
            Ok(None) => swept.already += 1,
            Err(e) => {
                tracing::error!(error = %e, "a sweep item failed; the next sweep tries again");
                swept.failed += 1;
            }
        }
    }
    Ok(swept)
}

/// What is due at `now`: reminders, expiries, then warnings.
async fn due(core: &Core, now: Timestamp) -> StoreResult<Vec<Item>> {
    let policy = core.policy();
    let mut items = Vec::new();
    let since = now.plus_secs(-LOOK_BACK_SECS);
    for r in core.stores.sweep.undecided_requests(since).await? {
        if r.request.expires_at <= now {
            items.push(Item::Expire(r));
        } else if !r.reminded && r.request.requested_at.plus_secs(policy.remind_after_secs) <= now {
            items.push(Item::Remind(r));
        }
    }
    let until = now.plus_secs(policy.expiry_notice_secs);
    for g in core.stores.sweep.unwarned_grants(now, until).await? {
        // Only a person on a chat platform can be warned: a group's grant ends for its members
        // as a grant made by an admin, who renews it.
        if g.principal.platform() != Platform::Cli && !g.principal.is_group() {
            items.push(Item::Warn(g));
        }
    }
    Ok(items)
}

/// Says what to send for `item`, then marks it done with its record; `None` if another sweep
/// had. Everything the message needs is read before the mark, so a failed read leaves the
/// item unmarked, for the next sweep.
async fn run(
    core: &Core,
    now: Timestamp,
    request_id: &RequestId,
    item: Item,
) -> StoreResult<Option<(Action, FollowUps)>> {
    let (mark, draft) = mark_of(&item);
    let follow_ups = match item {
        Item::Remind(r) => reminder(core, &r, now).await?,
        Item::Expire(r) => expiry(core, r, now).await?,
        Item::Warn(g) => warning(core, &g, now).await?,
    };
    let action = draft.action;
    let record = core.event(&sweeper(request_id)?, draft, now);
    let decision = Decision {
        now,
        replay: None,
        quotas: Vec::new(),
        record: Some(record),
        effect: Effect::Change {
            change: Change::Mark(mark),
            if_unchanged: None,
        },
    };
    let verdict = core
        .stores
        .decisions
        .decide(&DecisionView::default(), &decision)
        .await?;
    Ok((verdict == Verdict::Done { changed: true }).then_some((action, follow_ups)))
}

/// The mark that says `item` is done, and its record.
fn mark_of(item: &Item) -> (SweepMark, Draft) {
    let request = |r: &SweptRequest, action| {
        Draft::new(action, Outcome::Ok)
            .tool(&r.request.tool)
            .subject(&r.request.requester)
            .detail(format!("request {}", r.request.id))
    };
    match item {
        Item::Remind(r) => (
            SweepMark::Reminded(r.request.id.clone()),
            request(r, Action::Remind),
        ),
        Item::Expire(r) => (
            SweepMark::ExpiryTold(r.request.id.clone()),
            request(r, Action::RequestExpire),
        ),
        Item::Warn(g) => (
            SweepMark::GrantWarned {
                principal: g.principal.clone(),
                tool: g.tool.clone(),
                expires_at: g.expires_at,
            },
            Draft::new(Action::ExpiryNotice, Outcome::Ok)
                .tool(&g.tool)
                .subject(&g.principal)
                .detail(format!("grant until {}", g.expires_at)),
        ),
    }
}

/// The sweep as the "caller" of its records.
fn sweeper(request_id: &RequestId) -> StoreResult<ChatRequest> {
    let principal = Principal::parse(SWEEPER).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(ChatRequest {
        request_id: request_id.clone(),
        person: Person::from(&principal),
        principal,
        reaches_others: true,
        channel: None,
        text: "sweep".into(),
        delivery: None,
        name: None,
    })
}

/// A tool's display name, or its name when it is gone from the catalog.
async fn display(core: &Core, tool: &ToolName) -> StoreResult<String> {
    Ok(core
        .stores
        .access
        .tool(tool)
        .await?
        .map_or_else(|| tool.to_string(), |t| t.display_name))
}

/// The reminder to the request's approvers: its approval message again, with its buttons,
/// recorded as copies of it.
async fn reminder(core: &Core, r: &SweptRequest, now: Timestamp) -> StoreResult<FollowUps> {
    let request = &r.request;
    let Some(tool) = core.stores.access.tool(&request.tool).await? else {
        return Ok(FollowUps::default());
    };
    let person = &request.requester_person;
    let to = approver_audiences(core, &tool, (&request.requester, person), now).await;
    let mut lines = vec![format!(
        "Reminder: this request is still waiting for an approver (request `{}`).",
        request.id
    )];
    lines.extend(asking_lines(request, &tool.display_name));
    Ok(FollowUps {
        notices: to
            .into_iter()
            .map(|to| Notice {
                to,
                lines: lines.clone(),
                buttons: approval_buttons(request),
            })
            .collect(),
        record_copies: Some(request.id.clone()),
        ..FollowUps::default()
    })
}

/// Every copy of the expired request's message updated, and its requester told.
async fn expiry(core: &Core, r: SweptRequest, now: Timestamp) -> StoreResult<FollowUps> {
    let request = &r.request;
    let display = display(core, &request.tool).await?;
    let told = Notice {
        to: Audience::Person(request.requester.clone()),
        lines: vec![format!(
            "Your request for {display} access (request `{}`) expired at {} without a \
             decision. You can ask again.",
            request.id, request.expires_at
        )],
        buttons: vec![Button::RequestAccess(request.tool.clone())],
    };
    Ok(FollowUps {
        notices: vec![told],
        approval_message: Some(approval_message(request, &display, now)),
        copies: r.copies,
        ..FollowUps::default()
    })
}

/// The holder's warning, with a button that asks for more time.
async fn warning(core: &Core, g: &Grant, now: Timestamp) -> StoreResult<FollowUps> {
    let display = display(core, &g.tool).await?;
    let minutes = ((g.expires_at.unix() - now.unix()).max(0) + 59) / 60;
    Ok(FollowUps {
        notices: vec![Notice {
            to: Audience::Person(g.principal.clone()),
            lines: vec![format!(
                "Your {display} access ends at {} (in {minutes} min). Need longer? Ask the \
                 approvers for more time.",
                g.expires_at
            )],
            buttons: vec![Button::MoreTime(g.tool.clone())],
        }],
        ..FollowUps::default()
    })
}

/// Records where copies of request `id`'s approval message were posted, at `now`: no audit
/// record (nothing about access changes), one transaction. `false` if there is no such request.
pub async fn record_copies(
    core: &Core,
    id: &AccessRequestId,
    copies: Vec<MessageRef>,
    now: Timestamp,
) -> StoreResult<bool> {
    if copies.is_empty() {
        return Ok(true);
    }
    let decision = Decision {
        now,
        replay: None,
        quotas: Vec::new(),
        record: None,
        effect: Effect::Change {
            change: Change::AddCopies {
                id: id.clone(),
                copies,
            },
            if_unchanged: None,
        },
    };
    let verdict = core
        .stores
        .decisions
        .decide(&DecisionView::default(), &decision)
        .await?;
    Ok(verdict == Verdict::Done { changed: true })
}
