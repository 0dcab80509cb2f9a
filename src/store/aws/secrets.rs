//! Seeds in SSM Parameter Store: `{prefix}/tools/{tool}`, a SecureString holding the tool's
//! `otpauth://` URI, encrypted with the configured KMS key. Read with decryption, cached for a
//! short time (SSM allows 40 reads per second per account and region by default); cached seeds
//! are wiped from memory when evicted or replaced.

use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;
use zeroize::Zeroizing;

use super::AwsStore;
use crate::domain::{Seed, ToolName};
use crate::store::{SecretStore, StoreError, StoreResult};

fn ssm_err<E, R>(context: &str, err: aws_sdk_ssm::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend(format!(
        "{context}: {}",
        aws_sdk_ssm::error::DisplayErrorContext(err)
    ))
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
        self.ssm
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
        Ok(())
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

    fn forget(&self, tool: &ToolName) {
        if let Ok(mut cache) = self.seeds.lock() {
            cache.remove(tool);
        }
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
        let Some(uri) = get_parameter(&self.ssm, &self.seed_parameter(tool)).await? else {
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
