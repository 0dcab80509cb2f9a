//! In: what a platform's arrival becomes once its signature or token is verified — the
//! platform-neutral [`Asked`] — and how it is run through the engine ([`answer`]).

use super::error::ApiError;
use crate::engine::{Arrival, ChatRequest, Engine, Replayed};
use crate::reply::{Button, Reply};

/// What a verified arrival asks of the engine.
#[derive(Debug, Clone)]
pub enum Ask {
    /// The command typed as the request's `text`.
    Text,
    /// A click on one of otpbot's buttons: a typed action, never command text.
    Click(Button),
}

/// A verified arrival in platform-neutral form: the request it makes, what it asks, and
/// whether its workspace is served.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The caller, where they asked, and the text they typed.
    pub request: ChatRequest,
    /// The typed command or the clicked button.
    pub ask: Ask,
    /// Whether the caller's workspace (a Slack team or enterprise, a Teams tenant) is on the
    /// allow-list; a request from any other is refused, and the refusal audited.
    pub served: bool,
}

/// The way in from one chat platform: each kind of arrival a front end verifies (a Slack slash
/// command or button click, a Teams activity) implements it, turning what the platform sent
/// into what the engine reads. A front end never builds a command, reads a store or decides;
/// the engine does, from the [`Asked`] alone.
pub trait Incoming {
    /// The platform's settings the translation needs (its allow-list, whether it can message
    /// others).
    type Platform;

    /// The request this arrival makes and what it asks; a malformed arrival is refused
    /// (HTTP 400) with what is missing, before the engine sees anything.
    fn asked(&self, platform: &Self::Platform) -> Result<Asked, ApiError>;
}

/// Runs `asked`, which arrived as `arrival`, through the engine under the request's deadline:
/// the command its text or button stands for, or the refusal of a workspace not served.
/// `Err(Replayed)` when its replay marker was seen before; nothing was done then.
pub async fn answer(engine: &Engine, asked: &Asked, arrival: Arrival) -> Result<Reply, Replayed> {
    let request = &asked.request;
    if !asked.served {
        return engine.refuse_workspace_at(request, arrival).await;
    }
    match &asked.ask {
        Ask::Text => engine.handle_at(request, arrival).await,
        Ask::Click(button) => engine.click_at(request, arrival, button.clone()).await,
    }
}
