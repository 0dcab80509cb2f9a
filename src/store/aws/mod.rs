//! The AWS backend: DynamoDB for the catalog, grants, roles, counters and the audit log; SSM
//! Parameter Store (SecureString under a customer-managed KMS key) for seeds.
//!
//! Every lookup is a `GetItem`, a `BatchGetItem` or a `Query` on a key or index; nothing here
//! ever scans a table. Each decision is one `TransactWriteItems` (see [`decide`]), so concurrent
//! Lambda instances never race. Seeds and catalog entries are cached for a short time (seeds
//! wiped from memory when evicted); grants and roles never. An issued code at steady state costs
//! two DynamoDB round trips (one `BatchGetItem`, one `TransactWriteItems`) and no SSM call.
//! Nothing here logs a seed.

mod access;
mod audit;
mod counters;
mod decide;
mod item;
pub mod kms;
mod locked;
mod plan;
mod requests;
pub mod schema;
mod seal;
mod seal_read;
mod secrets;
mod startup;

pub use seal::SealSettings;
pub use seal_read::SealedLog;
pub use startup::{check_limit, MAX_LIMIT, PARAMETERS_PER_CALL};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_ssm::Client as Ssm;

use crate::domain::{Seed, ToolName};
use crate::store::StoreError;

/// Where the AWS backend keeps things.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// The access table: catalog, grants, roles, counters.
    pub access_table: String,
    /// The append-only audit table.
    pub audit_table: String,
    /// SSM parameter prefix, e.g. `/otpbot`; seeds live at `{prefix}/tools/{tool}`.
    pub ssm_prefix: String,
    /// KMS key for SecureString seeds; the account's default SSM key when `None`.
    pub kms_key_id: Option<String>,
    /// How long a seed read from SSM, and a tool's catalog entry, are reused. Grants and
    /// roles are never cached.
    pub seed_cache_ttl: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            access_table: "otpbot-access".into(),
            audit_table: "otpbot-audit".into(),
            ssm_prefix: "/otpbot".into(),
            kms_key_id: None,
            seed_cache_ttl: Duration::from_secs(60),
        }
    }
}

/// The DynamoDB + SSM store. Clients are built once from one `aws_config` load and shared.
pub struct AwsStore {
    ddb: DynamoDb,
    ssm: Ssm,
    settings: AwsSettings,
    seeds: Mutex<HashMap<ToolName, (Seed, Instant)>>,
    tools: Mutex<HashMap<ToolName, CachedTool>>,
    /// Secret settings read at start-up, each handed out once (see [`startup`]).
    parameters: Mutex<startup::Parameters>,
}

/// A catalog entry (or its absence) with its pinned seed version, and when it was read.
type CachedTool = (Option<(crate::domain::Tool, Option<i64>)>, Instant);

impl std::fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsStore")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AwsStore {
    /// A store using clients built from `config`.
    pub fn new(config: &aws_config::SdkConfig, settings: AwsSettings) -> Self {
        Self {
            ddb: DynamoDb::new(config),
            ssm: Ssm::new(config),
            settings,
            seeds: Mutex::new(HashMap::new()),
            tools: Mutex::new(HashMap::new()),
            parameters: Mutex::new(HashMap::new()),
        }
    }

    /// A store using the given clients (e.g. with interceptors that count calls).
    pub fn with_clients(ddb: DynamoDb, ssm: Ssm, settings: AwsSettings) -> Self {
        Self {
            ddb,
            ssm,
            settings,
            seeds: Mutex::new(HashMap::new()),
            tools: Mutex::new(HashMap::new()),
            parameters: Mutex::new(HashMap::new()),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The DynamoDB client (for table set-up in tests and tools).
    pub fn dynamodb(&self) -> &DynamoDb {
        &self.ddb
    }

    /// The SSM client.
    pub fn ssm(&self) -> &Ssm {
        &self.ssm
    }

    /// Reads a secret SSM parameter (signing secret, audit key) with decryption: from what
    /// [`AwsStore::start_up`] read, if it read it, else from SSM.
    pub async fn parameter(&self, name: &str) -> Result<Option<secrecy::SecretString>, StoreError> {
        if let Some(read) = self.read_parameter(name) {
            return Ok(read);
        }
        secrets::get_parameter(&self.ssm, name)
            .await
            .map(|v| v.map(|z| secrecy::SecretString::from(z.to_string())))
    }
}

/// Maps an SDK error to a store error, keeping the service's message for the log.
fn sdk<E, R>(context: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend(format!("{context}: {}", describe(&err)))
}

/// One line for an SDK error: each cause's message once, outermost first, without the
/// `Debug` dump that `DisplayErrorContext` appends (an operator reads this, and so does a log).
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
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
