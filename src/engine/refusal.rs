//! How a request that does not end in a normal answer is ended: a refusal audited with the
//! request's admission (and the "Request access" offer a missing grant earns), or an internal
//! failure logged, audited as far as the store allows, and answered generically.

use super::{Ctx, Draft, Engine, Replayed};
use crate::command::CommandError;
use crate::domain::{Action, Outcome};
use crate::reply::{Button, Reply};
use crate::store::Effect;

impl Engine {
    /// Audits a refusal, with the request's admission, and turns it into the caller's reply.
    pub(super) async fn deny(&self, ctx: &Ctx<'_>, err: CommandError) -> Result<Reply, Replayed> {
        let (draft, message, approval_message) = match err {
            CommandError::Denied {
                draft,
                message,
                approval_message,
            } => (*draft, message, approval_message),
            CommandError::Usage(message) => (
                Draft::new(Action::Request, Outcome::Invalid).detail(message.clone()),
                message,
                None,
            ),
            CommandError::Replayed => return Err(Replayed),
            other => return Ok(self.internal(ctx, Action::Request, other).await),
        };
        tracing::info!(action = %draft.action, outcome = %draft.outcome, "refused");
        let action = draft.action;
        let mut refusal = Reply::refusal(&ctx.request.request_id, message);
        refusal.follow_ups.approval_message = approval_message.map(|m| *m);
        if let Some(offer) = offer(&draft) {
            refusal = refusal.with_button(offer);
        }
        // A rate-limit refusal takes no quota; any other refusal counts against the caller.
        let take_quota = draft.outcome != Outcome::RateLimited;
        match ctx
            .commit_with(draft, Effect::Record, take_quota, None, None)
            .await
        {
            Ok(_) => Ok(refusal),
            Err(CommandError::Replayed) => Err(Replayed),
            Err(CommandError::Denied { draft, message, .. }) => {
                match ctx
                    .commit_with(*draft, Effect::Record, false, None, None)
                    .await
                {
                    Ok(_) => Ok(Reply::refusal(&ctx.request.request_id, message)),
                    Err(CommandError::Replayed) => Err(Replayed),
                    Err(e) => Ok(self.internal(ctx, action, e).await),
                }
            }
            Err(e) => Ok(self.internal(ctx, action, e).await),
        }
    }

    /// Logs an internal failure, tries to audit it, and answers generically.
    pub(super) async fn internal(&self, ctx: &Ctx<'_>, action: Action, err: CommandError) -> Reply {
        let request = ctx.request;
        tracing::error!(request_id = %request.request_id, error = %err, "request failed");
        let draft = Draft::new(action, Outcome::Error).detail("internal error");
        let event = self.event(request, draft, ctx.now);
        if let Err(e) = self.stores().audit.append(&event).await {
            tracing::error!(request_id = %request.request_id, error = %e, "could not audit the failure either");
        }
        Reply::internal(&request.request_id)
    }
}

/// What a refusal offers instead: a code refused for want of a grant offers to ask for one.
fn offer(draft: &Draft) -> Option<Button> {
    match (&draft.tool, draft.action, draft.outcome) {
        (Some(tool), Action::Code, Outcome::NoGrant | Outcome::Expired) => {
            Some(Button::RequestAccess(tool.clone()))
        }
        _ => None,
    }
}
