//! Settings → stores, keys and the engine: the configured backend opened once (the local
//! SQLite store with its key files, or DynamoDB and SSM with the AWS configuration loaded once),
//! and where the audit log's signed checkpoints come from.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use super::checkpoints::Checkpoints;
use crate::config::{Backend, Settings};
use crate::domain::{Clock, SystemClock};
use crate::engine::{Engine, Policy};
use crate::keys::{decode_hex_key, AuditKey, KeyBytes};
use crate::store::aws::AwsStore;
#[cfg(feature = "local")]
use crate::store::local::LocalStore;
use crate::store::Stores;

/// The assembled backend: the engine, plus what else start-up needs from the backend.
pub struct App {
    /// The core.
    pub engine: Engine,
    /// The AWS backend's store (AWS backend), for what only it holds (SSM parameters, seals).
    pub aws: Option<Arc<AwsStore>>,
    /// The local store (local backend), for what only it holds (its deployment secrets).
    #[cfg(feature = "local")]
    pub local: Option<Arc<LocalStore>>,
    /// The AWS configuration the store was built from, loaded once (AWS backend).
    pub sdk: Option<aws_config::SdkConfig>,
    /// Where the audit log's signed checkpoints come from.
    pub checkpoints: Checkpoints,
}

/// How long AWS calls may take, by who waits for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// A chat request (the server, the Lambda): the answer must reach Slack within its 3 s, so
    /// a slow or absent AWS fails fast and the caller is told to retry. These timeouts bound
    /// each call; the engine bounds a request's calls all together (`Policy::deadline`).
    Chat,
    /// An operator's command: it may wait on a slow link rather than give up on a write that
    /// AWS may still complete, and retry it into a conflict with itself.
    Operator,
}

impl App {
    /// Opens the configured backend and builds the engine. Keys given in the environment are
    /// moved out of `settings`; local key files are generated on first run.
    pub async fn open(
        settings: &mut Settings,
        policy: Policy,
        patience: Patience,
    ) -> anyhow::Result<Self> {
        match settings.backend {
            #[cfg(not(feature = "local"))]
            Backend::Local => Err(no_local_store()),
            #[cfg(feature = "local")]
            Backend::Local => Self::open_local(settings, policy),
            Backend::Aws => Self::open_aws(settings, policy, patience).await,
        }
    }

    /// The local store in the data directory, with its keys.
    #[cfg(feature = "local")]
    fn open_local(settings: &mut Settings, policy: Policy) -> anyhow::Result<Self> {
        let (store, audit) = super::local::open_local(settings)?;
        let signer = Arc::new(super::checkpoints::local_signer(settings)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let engine = Engine::new(Stores::single(store.clone()), clock, audit, policy);
        Ok(Self {
            engine,
            aws: None,
            local: Some(store.clone()),
            sdk: None,
            checkpoints: Checkpoints::Local { store, signer },
        })
    }

    /// DynamoDB and SSM; what serves chat reads its secret settings from SSM in one call.
    async fn open_aws(
        settings: &mut Settings,
        policy: Policy,
        patience: Patience,
    ) -> anyhow::Result<Self> {
        // What serves chat takes quotas: each limit must fit the item its times live in.
        if patience == Patience::Chat {
            for (setting, limit) in [
                ("OTPBOT_RATE_PER_TOOL", policy.per_tool),
                ("OTPBOT_RATE_PER_CALLER", policy.per_caller),
                ("OTPBOT_RATE_PER_REQUEST", policy.per_request),
            ] {
                crate::store::aws::check_limit(setting, limit).map_err(anyhow::Error::msg)?;
            }
        }
        let sdk = aws_config(patience).await?;
        let store = Arc::new(AwsStore::new(&sdk, settings.aws.clone()));
        if patience == Patience::Chat {
            let names = startup_parameters(settings);
            store.start_up(&names).await.with_context(|| {
                format!(
                    "cannot read the secret settings from SSM ({})",
                    names.join(", ")
                )
            })?;
        }
        let audit = aws_audit_key(&store, settings).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let stores = Stores::single(store.clone());
        let engine = Engine::new(stores, clock, Arc::new(AuditKey::new(audit)), policy);
        let checkpoints = Checkpoints::Aws {
            store: store.clone(),
            kms: aws_sdk_kms::Client::new(&sdk),
            kms_key: settings.checkpoint_kms_key.clone(),
        };
        Ok(Self {
            engine,
            aws: Some(store),
            #[cfg(feature = "local")]
            local: None,
            sdk: Some(sdk),
            checkpoints,
        })
    }
}

/// The audit key on AWS: from the environment if given, else its SSM parameter (read once).
pub async fn aws_audit_key(store: &AwsStore, settings: &mut Settings) -> anyhow::Result<KeyBytes> {
    if let Some(key) = settings.audit_key.take() {
        return Ok(key);
    }
    let name = &settings.audit_key_param;
    let text = store
        .parameter(name)
        .await
        .with_context(|| {
            format!(
                "cannot read the audit key from SSM parameter {name}: check the AWS credentials \
                 and region, and that they may ssm:GetParameter it"
            )
        })?
        .with_context(|| {
            format!(
                "SSM parameter {name} (the audit key) does not exist: create it with `otpbot \
                 secret set audit-key --generate`, or set OTPBOT_AUDIT_KEY_PARAM to where it is"
            )
        })?;
    Ok(decode_hex_key(text.expose_secret(), name)?)
}

/// The SSM parameters a server or Lambda reads at start-up, in one call: each secret setting
/// it will use that the environment does not give.
fn startup_parameters(settings: &Settings) -> Vec<String> {
    let mut names = Vec::new();
    if settings.audit_key.is_none() {
        names.push(settings.audit_key_param.clone());
    }
    if settings.slack_enabled() && settings.signing_secret().is_none() {
        names.push(settings.signing_secret_param.clone());
    }
    if settings.slack_enabled() && settings.slack_bot_token.is_none() {
        names.push(settings.slack_bot_token_param.clone());
    }
    if let Some(teams) = settings.teams.as_ref().filter(|t| !t.playground) {
        if teams.client_secret.is_none() {
            names.push(teams.client_secret_param.clone());
        }
    }
    names
}

/// The timeouts of `patience`.
fn aws_timeouts(patience: Patience) -> aws_config::timeout::TimeoutConfig {
    let (connect, attempt, operation) = match patience {
        Patience::Chat => (500, 1_000, 2_500),
        Patience::Operator => (3_000, 10_000, 30_000),
    };
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(connect))
        .operation_attempt_timeout(Duration::from_millis(attempt))
        .operation_timeout(Duration::from_millis(operation))
        .build()
}

/// Loads the AWS configuration once: region, credentials chain, `AWS_ENDPOINT_URL`. Without a
/// region every call would fail, each after probing the instance metadata service, so that is
/// said once, up front.
pub async fn aws_config(patience: Patience) -> anyhow::Result<aws_config::SdkConfig> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(aws_timeouts(patience))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    if config.region().is_none() {
        anyhow::bail!(
            "no AWS region: set AWS_REGION, or AWS_PROFILE to a profile that has a region"
        );
    }
    Ok(config)
}

/// Why a build without the `local` feature (the Lambda package) cannot open the local store.
pub fn no_local_store() -> anyhow::Error {
    anyhow::anyhow!(
        "this build of otpbot has no local store (it was built without the `local` feature, \
         as the Lambda package is); set OTPBOT_BACKEND=aws, or use a full build"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_gives_up_inside_slacks_budget_and_an_operator_waits_longer() {
        let chat = aws_timeouts(Patience::Chat);
        let operator = aws_timeouts(Patience::Operator);
        // Slack shows an error when a slash command has no answer after 3 s.
        assert!(chat.operation_timeout().expect("set") < Duration::from_secs(3));
        assert!(
            operator.operation_attempt_timeout().expect("set")
                >= 5 * chat.operation_attempt_timeout().expect("set")
        );
    }
}
