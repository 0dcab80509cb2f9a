//! AWS SDK errors as store errors: one line for the log (or an operator), each cause once.

use crate::store::{StoreError, StoreResult};

/// Maps a DynamoDB SDK error to a store error, keeping the service's message for the log.
pub(super) fn sdk<E, R>(context: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend(format!("{context}: {}", describe(&err)))
}

/// One line for an SDK error: each cause's message once, outermost first, without the
/// `Debug` dump that `DisplayErrorContext` appends (an operator reads this, and so does a log).
pub(super) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whether an SDK error is a failed `ConditionExpression`.
pub(super) fn is_conditional_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// A request builder's result, its error (a required field left out) as a store error.
pub(super) fn built<T>(
    what: &str,
    r: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> StoreResult<T> {
    r.map_err(|e| StoreError::Backend(format!("{what}: {e}")))
}
