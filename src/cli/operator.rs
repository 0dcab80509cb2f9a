//! The operator at this terminal, as the engine sees a caller.

use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::ChatRequest;

/// A request standing for the operator at this terminal: `cli:local:{os user}`.
pub fn operator_request() -> ChatRequest {
    let user: String = std::env::var("USER")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    let user = if user.is_empty() {
        "operator".to_owned()
    } else {
        user
    };
    let principal = Principal::new(Platform::Cli, "local", &user)
        .unwrap_or_else(|_| Principal::parse("cli:local:operator").expect("valid principal"));
    ChatRequest {
        request_id: RequestId::new(),
        person: Person::from(&principal),
        reaches_others: false,
        principal,
        channel: Some("cli".into()),
        text: String::new(),
        delivery: Some("terminal".into()),
        name: None,
    }
}
