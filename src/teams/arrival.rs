//! The common start of every Teams activity: the body read within its limit, the bearer JWT
//! verified against the Bot Framework keys, the activity parsed, the signing key's channel
//! endorsement and the token's `serviceurl` claim checked against it, and its service URL one
//! replies may go to. In playground mode (the local Microsoft 365 Agents Playground) no token
//! is verified and only loopback service URLs are used.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::activity::Activity;
use super::auth::AuthError;
use super::config::TeamsConfig;
use crate::domain::RequestId;
use crate::front::ApiError;

/// The activity, once its token, channel and service URL have been checked.
pub(super) async fn verified_activity(
    teams: &TeamsConfig,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Activity, ApiError> {
    let body = body.map_err(ApiError::from_body_rejection)?;
    let verified = if teams.is_playground() {
        tracing::warn!(
            "Teams playground mode: activity accepted without a Bot Framework token (local try-out only)"
        );
        None
    } else {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        let verified = teams.auth.verify(authorization).await.map_err(|e| {
            tracing::warn!(reason = %e, "teams request refused");
            match e {
                AuthError::KeysUnavailable => ApiError::Internal(RequestId::new()),
                other => ApiError::Unauthorized(other.to_string()),
            }
        })?;
        Some(verified)
    };
    let activity: Activity = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("the body is not a Bot Framework activity".into()))?;
    if let Some(verified) = verified {
        verified
            .check_activity(
                activity.channel_id.as_deref(),
                activity.service_url.as_deref(),
            )
            .map_err(|e| {
                tracing::warn!(reason = %e, "teams request refused");
                ApiError::Forbidden(e.to_string())
            })?;
    }
    check_destination(teams, &activity)?;
    Ok(activity)
}

/// An answer that cannot be delivered is not worth running: a service URL the Connector client
/// refuses (not https; in playground mode, not on loopback) is refused up front, and only the
/// Teams channel is trusted to name the tenant and the sender's AAD object id (Web Chat or
/// Direct Line clients choose their own channelData).
fn check_destination(teams: &TeamsConfig, activity: &Activity) -> Result<(), ApiError> {
    if let Some(url) = activity.service_url.as_deref() {
        teams.connector.check_service_url(url).map_err(|e| {
            tracing::warn!(reason = %e, "teams request refused");
            ApiError::Forbidden(if teams.is_playground() {
                "in playground mode the service URL must be on loopback".into()
            } else {
                "the service URL must be https".into()
            })
        })?;
    }
    if activity.channel_id.as_deref() != Some("msteams") {
        return Err(ApiError::Forbidden(
            "only the msteams channel is served".into(),
        ));
    }
    Ok(())
}
