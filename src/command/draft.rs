//! What a command decides about the audit record of its request: the action, the tool, the
//! other principal, the outcome and a short detail. [`Core::event`](super::Core::event)
//! adds the id, the time, the request and the actor.

use crate::domain::{Action, Outcome, Principal, ToolName};

/// The parts of an audit event a command decides; [`Core::event`](super::Core::event) adds id,
/// time, request, actor.
#[derive(Debug, Clone)]
pub struct Draft {
    /// What was asked for.
    pub action: Action,
    /// The tool concerned.
    pub tool: Option<ToolName>,
    /// The other principal concerned.
    pub subject: Option<Principal>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short, non-secret detail.
    pub detail: Option<String>,
    /// MAC of an issued code.
    pub code_mac: Option<String>,
}

impl Draft {
    /// A draft with only action and outcome set.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            tool: None,
            subject: None,
            outcome,
            detail: None,
            code_mac: None,
        }
    }

    /// Sets the tool.
    pub fn tool(mut self, tool: &ToolName) -> Self {
        self.tool = Some(tool.clone());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: &Principal) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
