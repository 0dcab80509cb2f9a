//! What the AWS backend does once, at start-up, so a Lambda's first request pays no more than
//! a warm one: every secret setting read from SSM in one `GetParameters` call (up to 10 names a
//! call: <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html>),
//! and, at the same time, one DynamoDB call that opens the connection (its TLS handshake) and
//! fills the catalog cache. After it, settings are never read again; seeds are read when their
//! cache expires.
//!
//! Also the start-up check that each rate limit fits the one DynamoDB item its times live in.

use std::time::Duration;

use secrecy::SecretString;

use super::access_items::{tool_from, SEED_VERSION};
use super::handle::{AwsStore, Parameters};
use super::item::{get_n, s};
use super::key_layout::TOOLS_PK;
use super::schema::{ACCESS_PK, ACCESS_SK};
use super::sdk_error::{describe, sdk};
use super::secrets::get_parameter;
use crate::domain::RateLimit;
use crate::store::{StoreError, StoreResult};

/// Names one `GetParameters` call takes at most.
pub const PARAMETERS_PER_CALL: usize = 10;

impl AwsStore {
    /// Reads a secret SSM parameter (signing secret, audit key) with decryption: from what
    /// [`AwsStore::start_up`] read, if it read it, else from SSM.
    pub async fn parameter(&self, name: &str) -> StoreResult<Option<SecretString>> {
        if let Some(read) = self.read_parameter(name) {
            return Ok(read);
        }
        get_parameter(&self.ssm, name)
            .await
            .map(|v| v.map(|z| SecretString::from(z.to_string())))
    }

    /// Reads the secret parameters `names` with decryption, in one `GetParameters` call per
    /// ten names, and keeps them for [`AwsStore::parameter`], which then answers from them
    /// without calling SSM. Names SSM does not have are remembered as absent.
    pub async fn read_parameters(&self, names: &[String]) -> StoreResult<()> {
        let mut found = Parameters::new();
        for chunk in names.chunks(PARAMETERS_PER_CALL) {
            let out = self
                .ssm
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| StoreError::Backend(format!("get parameters: {}", describe(&e))))?;
            for parameter in out.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (parameter.name, parameter.value) {
                    found.insert(name, Some(SecretString::from(value)));
                }
            }
            for name in out.invalid_parameters.unwrap_or_default() {
                found.insert(name, None);
            }
        }
        if let Ok(mut kept) = self.parameters.lock() {
            kept.extend(found);
        }
        Ok(())
    }

    /// A parameter read by [`AwsStore::read_parameters`], handed out once: `Some(value)` if
    /// it was read (the value `None` if SSM does not have it), `None` if it was not asked for.
    pub(super) fn read_parameter(&self, name: &str) -> Option<Option<SecretString>> {
        self.parameters.lock().ok()?.remove(name)
    }

    /// One DynamoDB call made at start-up: it opens the connection (and its TLS handshake) a
    /// first request would otherwise wait for, and fills the catalog cache with the tools it
    /// reads. Returns how many tools it cached.
    pub async fn warm_up(&self) -> StoreResult<usize> {
        let out = self
            .ddb
            .query()
            .table_name(&self.settings.access_table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#sk", ACCESS_SK)
            .expression_attribute_values(":pk", s(TOOLS_PK))
            .expression_attribute_values(":prefix", s("T#"))
            .send()
            .await
            .map_err(|e| sdk("warm-up query", e))?;
        let mut cached = 0;
        for item in out.items() {
            let tool = tool_from(item)?;
            let version = get_n(item, SEED_VERSION).ok();
            self.cache_tool(&tool.name.clone(), Some((tool, version)));
            cached += 1;
        }
        Ok(cached)
    }

    /// [`AwsStore::read_parameters`] and [`AwsStore::warm_up`] at once: what a Lambda does
    /// during its init. A warm-up that fails is logged and costs nothing but the first
    /// request's connection; a parameter read that fails is an error.
    pub async fn start_up(&self, names: &[String]) -> StoreResult<()> {
        let (read, warm) = tokio::join!(self.read_parameters(names), async {
            tokio::time::timeout(Duration::from_secs(2), self.warm_up()).await
        });
        match warm {
            Ok(Ok(tools)) => tracing::debug!(tools, "DynamoDB connection warmed up"),
            Ok(Err(e)) => tracing::warn!(error = %e, "DynamoDB warm-up failed"),
            Err(_) => tracing::warn!("DynamoDB warm-up timed out"),
        }
        read
    }
}

/// Bytes of one admitted time in a limit's item: a list element holding a number of up to 10
/// digits (Unix seconds until the year 2286) is 1 byte for the element plus
/// `digits / 2 + 1` bytes for the number
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>).
const TIME_BYTES: u64 = 1 + 10 / 2 + 1;

/// The item size DynamoDB allows (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html>),
/// less room for the key (a quota key is a principal and a tool name, a few hundred bytes at
/// most), the version and the expiry.
const ITEM_BYTES_FOR_TIMES: u64 = 400 * 1024 - 2 * 1024;

/// The largest limit whose admitted times fit in one DynamoDB item.
pub const MAX_LIMIT: u64 = ITEM_BYTES_FOR_TIMES / TIME_BYTES;

/// Refuses a limit whose admitted times could outgrow the one item they are kept in, naming
/// the setting (`setting`, e.g. `OTPBOT_RATE_PER_TOOL`) that asks for it.
pub fn check_limit(setting: &str, limit: RateLimit) -> Result<(), String> {
    if limit.limit <= MAX_LIMIT {
        return Ok(());
    }
    Err(format!(
        "{setting} allows {} events per window, but on the AWS backend a limit's admitted times \
         live in one DynamoDB item (400 KB at most), which holds at most {MAX_LIMIT}; set \
         {setting} to {MAX_LIMIT} or fewer per window (a longer window with a smaller count \
         keeps about the same rate)",
        limit.limit
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_too_large_for_one_item_is_refused_naming_its_setting() {
        let fits = RateLimit {
            limit: MAX_LIMIT,
            window_secs: 60,
        };
        assert_eq!(check_limit("OTPBOT_RATE_PER_TOOL", fits), Ok(()));
        let huge = RateLimit {
            limit: 1_000_000,
            window_secs: 60,
        };
        let err = check_limit("OTPBOT_RATE_PER_CALLER", huge).expect_err("too large");
        assert!(err.contains("OTPBOT_RATE_PER_CALLER"), "{err}");
        assert!(err.contains(&MAX_LIMIT.to_string()), "{err}");
    }

    /// The size of a limit's item by DynamoDB's rules for the largest limit allowed, with
    /// the latest times and a long key, stays under 400 KB.
    #[test]
    fn the_largest_limit_fits_in_an_item_with_its_key() {
        let number = |n: i64| {
            let digits = n.to_string().trim_matches('0').len() as u64;
            digits.div_ceil(2) + 1
        };
        let key = format!("Q#tool:slack:E0123456789:W0123456789:{}", "x".repeat(32));
        let times: u64 = (0..MAX_LIMIT as i64)
            .map(|i| 1 + number(9_999_999_999 - i))
            .sum();
        let item = 2 + key.len() as u64 // pk
            + 2 + 1 // sk "Q"
            + 5 + 3 + times // "times": the list
            + 3 + number(i64::MAX) // "ver"
            + 10 + number(9_999_999_999); // the expiry
        assert!(item <= 400 * 1024, "{item} bytes");
    }
}
