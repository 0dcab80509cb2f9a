//! The common start of every Slack HTTP endpoint: the body read within its limit, its
//! signature and timestamp checked on the raw bytes (SPEC §3.1), and its arrival with the
//! replay marker its decision records (SPEC §3.2, §3.5). Nothing of the body is logged or
//! parsed before.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::config::SlackConfig;
use super::signature::{verify, MAX_AGE_SECS};
use crate::domain::Timestamp;
use crate::engine::Arrival;
use crate::front::{ApiError, Front};

/// The raw body and its arrival, once the body's signature and timestamp hold.
pub(super) fn verified_request(
    front: &Front<SlackConfig>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, Arrival), ApiError> {
    let body = body.map_err(ApiError::from_body_rejection)?;
    let arrival = verified_arrival(&front.config, headers, &body, front.engine.clock().now())?;
    Ok((body, arrival))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the signature and timestamp on the raw `body` and returns the request's arrival at
/// `now`, fingerprinted by its MAC.
fn verified_arrival(
    slack: &SlackConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Arrival, ApiError> {
    let verified = verify(
        &slack.signing_secret,
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        now,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "slack request refused");
        ApiError::Unauthorized(e.to_string())
    })?;
    Ok(Arrival::once(
        now,
        format!("replay:slack:{}", hex::encode(&verified.mac)),
        Timestamp::from_unix(verified.timestamp + MAX_AGE_SECS + 1),
    ))
}
