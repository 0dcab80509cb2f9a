//! The one error type of the store layer.

/// A store failure. The text is for the log, never for a chat user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("store backend failed: {0}")]
    Backend(String),
    /// Stored data could not be read back (bad row, wrong master key).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The store was created with another key in this role (`master` or `audit`).
    #[error("the {0} key is not the one this store was created with")]
    WrongKey(&'static str),
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
