//! The [`AwsStore`] handle: the DynamoDB and SSM clients, where things are kept, and the
//! short-lived caches of seeds, catalog entries and the secret settings read at start-up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_ssm::Client as Ssm;
use secrecy::SecretString;

use crate::domain::{Seed, Tool, ToolName};

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
    pub(super) ddb: DynamoDb,
    pub(super) ssm: Ssm,
    pub(super) settings: AwsSettings,
    pub(super) seeds: Mutex<HashMap<ToolName, (Seed, Instant)>>,
    pub(super) tools: Mutex<HashMap<ToolName, CachedTool>>,
    /// Secret settings read at start-up, each handed out once (see `startup.rs`).
    pub(super) parameters: Mutex<Parameters>,
}

/// A catalog entry (or its absence) with its pinned seed version, and when it was read.
pub(super) type CachedTool = (Option<(Tool, Option<i64>)>, Instant);

/// Secret settings read at start-up, by parameter name; `None` for a name SSM does not have.
pub(super) type Parameters = HashMap<String, Option<SecretString>>;

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
}
