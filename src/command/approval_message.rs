//! The message approvers see about one access request: while it is open, who asks for what,
//! why and until when, with the decisions still open as buttons; once settled, how it ended.
//! The command that opens a request sends it, and the command that decides one says what it
//! now reads.

use super::args::show_named;
use crate::domain::{AccessRequest, GrantDuration, RequestState, Timestamp};
use crate::reply::{ApprovalMessage, Button};

/// The lines of the message that asks approvers about `request`.
pub(super) fn asking_lines(request: &AccessRequest, display: &str) -> Vec<String> {
    let who = requester(request);
    let mut lines = vec![format!(
        "{who} asks for {display} access for {}.",
        request.duration
    )];
    if let Some(reason) = &request.reason {
        lines.push(format!("Reason: {reason}"));
    }
    lines.push(format!(
        "Asked at {}; open until {} (request `{}`).",
        request.requested_at, request.expires_at, request.id
    ));
    lines.extend(count_line(request));
    lines
}

/// Under the two-person rule, how many of the approvals needed were given, and by whom.
fn count_line(request: &AccessRequest) -> Option<String> {
    let needed = request.approvals_required;
    if needed <= 1 && request.approvals.is_empty() {
        return None;
    }
    if request.approvals.is_empty() {
        return Some(format!("Needs {needed} approvals from different people."));
    }
    let by: Vec<String> = request
        .approvals
        .iter()
        .map(|a| show_named(&a.by, a.name.as_deref(), &request.requester))
        .collect();
    Some(format!(
        "{} of {needed} approvals: {}.",
        request.approvals.len(),
        by.join(", ")
    ))
}

/// The requester as approvers see them: by the display name they asked with, where their
/// platform gave one.
fn requester(request: &AccessRequest) -> String {
    let name = request.requester_name.as_deref();
    show_named(&request.requester, name, &request.requester)
}

/// The decisions an approver can click on `request`: approve as asked, approve a shorter
/// grant, deny.
pub(super) fn approval_buttons(request: &AccessRequest) -> Vec<Button> {
    let mut buttons = vec![Button::Approve(request.id.clone(), None)];
    if let Some(shorter) = shorter_offer(request.duration) {
        buttons.push(Button::Approve(request.id.clone(), Some(shorter)));
    }
    buttons.push(Button::Deny(request.id.clone()));
    buttons
}

/// The message about `request` as it stands at `now`: who asked for what and, once settled,
/// how it ended (without buttons); while open, the asking message with its buttons.
pub(super) fn approval_message(
    request: &AccessRequest,
    display: &str,
    now: Timestamp,
) -> ApprovalMessage {
    settled_message(request, display, now, request.decided_by_name.as_deref())
}

/// [`approval_message`], naming the one who decided by `decider_name`, the display name their
/// platform gave when they decided (as the request keeps it once decided).
pub(super) fn settled_message(
    request: &AccessRequest,
    display: &str,
    now: Timestamp,
    decider_name: Option<&str>,
) -> ApprovalMessage {
    let requester = &request.requester;
    let outcome = match &request.state {
        RequestState::Approved { at, .. } if request.approvals.len() > 1 => {
            let all: Vec<String> = request
                .approvals
                .iter()
                .map(|a| show_named(&a.by, a.name.as_deref(), requester))
                .collect();
            Some(format!("Approved by {} at {at}.", all.join(" and ")))
        }
        RequestState::Approved { by, at } => Some(format!(
            "Approved by {} at {at}.",
            show_named(by, decider_name, requester)
        )),
        RequestState::Denied { by, at } => Some(format!(
            "Denied by {} at {at}.",
            show_named(by, decider_name, requester)
        )),
        RequestState::Open if !request.is_open(now) => {
            Some(format!("Expired undecided at {}.", request.expires_at))
        }
        RequestState::Open => None,
    };
    let Some(outcome) = outcome else {
        return ApprovalMessage {
            request: request.id.clone(),
            lines: asking_lines(request, display),
            buttons: approval_buttons(request),
            settled: false,
        };
    };
    let summary = format!(
        "{} asked for {display} access for {} (request `{}`).",
        self::requester(request),
        request.duration,
        request.id
    );
    ApprovalMessage {
        request: request.id.clone(),
        lines: vec![summary, outcome],
        buttons: Vec::new(),
        settled: true,
    }
}

/// A shorter grant the approval message offers besides the one asked for: an hour, or a
/// quarter of an hour for requests of an hour or less.
fn shorter_offer(asked: GrantDuration) -> Option<GrantDuration> {
    [3_600, 900]
        .into_iter()
        .filter_map(GrantDuration::from_secs)
        .find(|offer| *offer < asked)
}
