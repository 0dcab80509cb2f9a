//! The stores the core needs, one object per role, chosen once at start-up.

use std::sync::Arc;

use super::decision::{Change, Decision, DecisionStore, DecisionView, Effect, Verdict};
use super::error::{StoreError, StoreResult};
use super::sweep::SweepStore;
use super::traits::{AccessStore, AuditStore, CounterStore, SecretStore};
use crate::domain::{
    Action, AuditEvent, EventId, Grant, Outcome, Principal, RequestId, Seed, Timestamp, Tool,
    ToolName,
};

/// The stores the core needs, chosen once at start-up.
#[derive(Clone)]
pub struct Stores {
    /// Catalog, grants, roles.
    pub access: Arc<dyn AccessStore>,
    /// Seeds.
    pub secrets: Arc<dyn SecretStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Lone replay markers.
    pub counters: Arc<dyn CounterStore>,
    /// Decisions.
    pub decisions: Arc<dyn DecisionStore>,
    /// The sweep's reads.
    pub sweep: Arc<dyn SweepStore>,
}

impl Stores {
    /// All roles served by one backend object.
    pub fn single<S>(store: Arc<S>) -> Self
    where
        S: AccessStore
            + SecretStore
            + AuditStore
            + CounterStore
            + DecisionStore
            + SweepStore
            + 'static,
    {
        Self {
            access: store.clone(),
            secrets: store.clone(),
            audit: store.clone(),
            counters: store.clone(),
            decisions: store.clone(),
            sweep: store,
        }
    }

    /// Stores `grant` with its audit record (actor: its grantor), in one transaction. For
    /// setting a store up outside chat.
    pub async fn put_grant(&self, grant: &Grant) -> StoreResult<()> {
        let record = setup_record(
            &grant.granted_by,
            Action::Grant,
            Some(&grant.tool),
            Some(&grant.principal),
            format!("until {}", grant.expires_at),
            grant.granted_at,
        );
        self.change(Change::PutGrant(grant.clone()), record)
            .await
            .map(drop)
    }

    /// Stores `tool` (and its seed) with its audit record by `actor` at `at`, in one
    /// transaction. For setting a store up outside chat.
    pub async fn put_tool(
        &self,
        tool: &Tool,
        seed: Option<&Seed>,
        actor: &Principal,
        at: Timestamp,
    ) -> StoreResult<()> {
        let record = setup_record(
            actor,
            Action::ToolAdd,
            Some(&tool.name),
            None,
            "set up".into(),
            at,
        );
        let change = Change::PutTool {
            tool: tool.clone(),
            seed: seed.cloned(),
        };
        self.change(change, record).await.map(drop)
    }

    /// Commits `change` with `record` (recorded also when nothing changed), as an operator
    /// does when setting a store up. `false` if nothing changed.
    pub async fn change(&self, change: Change, record: AuditEvent) -> StoreResult<bool> {
        let decision = Decision {
            now: record.at,
            replay: None,
            quotas: Vec::new(),
            record: Some(record.clone()),
            effect: Effect::Change {
                change,
                if_unchanged: Some(record),
            },
        };
        match self
            .decisions
            .decide(&DecisionView::default(), &decision)
            .await?
        {
            Verdict::Done { changed } => Ok(changed),
            other => Err(StoreError::Backend(format!(
                "a change without limits was refused: {other:?}"
            ))),
        }
    }
}

fn setup_record(
    actor: &Principal,
    action: Action,
    tool: Option<&ToolName>,
    subject: Option<&Principal>,
    detail: String,
    at: Timestamp,
) -> AuditEvent {
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: actor.clone(),
        action,
        tool: tool.cloned(),
        subject: subject.cloned(),
        outcome: Outcome::Ok,
        detail: Some(detail),
        channel: None,
        code_mac: None,
    }
}
