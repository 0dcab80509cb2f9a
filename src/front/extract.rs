//! What a front end's handler takes from the application state, as an axum extractor: the
//! engine, the [`Background`] and the platform's own settings, each a sub-state the
//! application state hands out through [`FromRef`]. A platform that is not configured has no
//! settings there, and its endpoints answer 404.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::background::Background;
use super::error::ApiError;
use crate::engine::Engine;

/// The parts a front end's handler works with, for platform settings `P` (`SlackConfig`,
/// `TeamsConfig`, …).
pub struct Front<P> {
    /// The core every front end calls.
    pub engine: Arc<Engine>,
    /// Where follow-ups run after the answer.
    pub background: Background,
    /// The platform's settings and clients.
    pub config: Arc<P>,
}

impl<P> Clone for Front<P> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            background: self.background.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S, P> FromRequestParts<S> for Front<P>
where
    S: Send + Sync,
    P: Send + Sync,
    Arc<Engine>: FromRef<S>,
    Background: FromRef<S>,
    Option<Arc<P>>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let config = Option::<Arc<P>>::from_ref(state).ok_or(ApiError::NotFound)?;
        Ok(Self {
            engine: Arc::from_ref(state),
            background: Background::from_ref(state),
            config,
        })
    }
}
