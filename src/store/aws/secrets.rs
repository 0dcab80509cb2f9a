//! Seeds in SSM Parameter Store: `{prefix}/tools/{tool}`, a SecureString holding the tool's
//! `otpauth://` URI, encrypted with the configured KMS key. Read with decryption, cached for a
//! short time (SSM allows 40 reads per second per account and region by default); cached seeds
//! are wiped from memory when evicted or replaced.

use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;
use zeroize::Zeroizing;

use super::handle::AwsStore;
use super::sdk_error::describe;
use crate::domain::{Seed, Tool, ToolName};
use crate::store::{SecretStore, StoreError, StoreResult};

fn ssm_err<E, R>(context: &str, err: aws_sdk_ssm::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend(format!("{context}: {}", describe(&err)))
}

fn not_found<E: aws_sdk_ssm::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_ssm::error::SdkError<E, R>,
) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ParameterNotFound")
}

/// Reads a SecureString parameter with decryption; `None` if it does not exist.
pub async fn get_parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
) -> StoreResult<Option<Zeroizing<String>>> {
    match ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
    {
        Ok(out) => Ok(out.parameter.and_then(|p| p.value).map(Zeroizing::new)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(ssm_err("get parameter", e)),
    }
}

impl AwsStore {
    /// Writes a secret as a SecureString parameter under the configured KMS key, replacing it.
    pub async fn put_secret_parameter(
        &self,
        name: &str,
        value: &str,
        description: &str,
    ) -> StoreResult<()> {
        self.put_secure(name, value, description).await.map(drop)
    }

    /// Writes a SecureString parameter, replacing it; returns the version SSM gave it.
    async fn put_secure(&self, name: &str, value: &str, description: &str) -> StoreResult<i64> {
        let out = self
            .ssm
            .put_parameter()
            .name(name)
            .description(description)
            .value(value)
            .r#type(ParameterType::SecureString)
            .set_key_id(self.settings.kms_key_id.clone())
            .overwrite(true)
            .send()
            .await
            .map_err(|e| ssm_err("put parameter", e))?;
        Ok(out.version)
    }

    /// The parameter name of a tool's seed. Tool names are checked, so this cannot leave the prefix.
    pub fn seed_parameter(&self, tool: &ToolName) -> String {
        format!(
            "{}/tools/{tool}",
            self.settings.ssm_prefix.trim_end_matches('/')
        )
    }

    fn cached(&self, tool: &ToolName) -> Option<Seed> {
        let mut cache = self.seeds.lock().ok()?;
        let ttl = self.settings.seed_cache_ttl;
        cache.retain(|_, (_, at)| at.elapsed() < ttl);
        cache.get(tool).map(|(seed, _)| seed.clone())
    }

    /// The catalog entry of `tool` if read within the cache time; `Some(None)`: known absent.
    pub(super) fn cached_tool(&self, tool: &ToolName) -> Option<Option<(Tool, Option<i64>)>> {
        let mut cache = self.tools.lock().ok()?;
        let ttl = self.settings.seed_cache_ttl;
        cache.retain(|_, (_, at)| at.elapsed() < ttl);
        cache.get(tool).map(|(entry, _)| entry.clone())
    }

    /// Keeps a catalog entry (or its absence) for the cache time.
    pub(super) fn cache_tool(&self, tool: &ToolName, entry: Option<(Tool, Option<i64>)>) {
        if self.settings.seed_cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.tools.lock() {
            cache.insert(tool.clone(), (entry, Instant::now()));
        }
    }

    /// Drops the cached seed and catalog entry of `tool` after this process changed them.
    pub(super) fn forget(&self, tool: &ToolName) {
        if let Ok(mut cache) = self.seeds.lock() {
            cache.remove(tool);
        }
        if let Ok(mut cache) = self.tools.lock() {
            cache.remove(tool);
        }
    }

    /// Writes a new version of the seed parameter and returns its version number. The catalog
    /// entry that pins this version is written afterwards in the change's transaction with its
    /// audit record; until then the previous version stays the one codes come from, so a
    /// failure in between changes nothing anyone can use.
    pub(super) async fn write_seed(&self, tool: &ToolName, seed: &Seed) -> StoreResult<i64> {
        let description = format!("otpbot TOTP seed for {tool}");
        self.put_secure(&self.seed_parameter(tool), seed.expose_uri(), &description)
            .await
    }

    /// Deletes the seed parameter of a removed tool; absent is fine.
    pub(super) async fn remove_seed(&self, tool: &ToolName) -> StoreResult<()> {
        self.delete_seed(tool).await.map(drop)
    }
}

#[async_trait]
impl SecretStore for AwsStore {
    async fn put_seed(&self, tool: &ToolName, seed: &Seed) -> StoreResult<()> {
        let description = format!("otpbot TOTP seed for {tool}");
        self.put_secret_parameter(&self.seed_parameter(tool), seed.expose_uri(), &description)
            .await?;
        self.forget(tool);
        Ok(())
    }

    async fn seed(&self, tool: &ToolName) -> StoreResult<Option<Seed>> {
        if let Some(seed) = self.cached(tool) {
            return Ok(Some(seed));
        }
        // The catalog pins the parameter version its last recorded change wrote.
        let name = match self.catalog_entry(tool).await? {
            Some((_, Some(version))) => format!("{}:{version}", self.seed_parameter(tool)),
            _ => self.seed_parameter(tool),
        };
        let Some(uri) = get_parameter(&self.ssm, &name).await? else {
            return Ok(None);
        };
        let seed =
            Seed::parse(&uri).map_err(|e| StoreError::Corrupt(format!("seed of {tool}: {e}")))?;
        if !self.settings.seed_cache_ttl.is_zero() {
            if let Ok(mut cache) = self.seeds.lock() {
                cache.insert(tool.clone(), (seed.clone(), Instant::now()));
            }
        }
        Ok(Some(seed))
    }

    async fn delete_seed(&self, tool: &ToolName) -> StoreResult<bool> {
        self.forget(tool);
        match self
            .ssm
            .delete_parameter()
            .name(self.seed_parameter(tool))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(ssm_err("delete seed", e)),
        }
    }
}
