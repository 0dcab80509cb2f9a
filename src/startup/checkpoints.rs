//! Signed audit checkpoints: where the log's head comes from (the local store, signed with the
//! checkpoint key, or the AWS backend's newest seal, signed by KMS when it was sealed), and how
//! `serve` and the Lambda's sealing run publish them: a structured log line
//! (`message = "audit checkpoint"`, the checkpoint as JSON in its `checkpoint` field) and, with
//! `OTPBOT_AUDIT_CHANNEL`, a post in that channel through the platform's front end
//! (`front::Outbox`). Both are places the store's writer cannot rewrite.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

#[cfg(feature = "local")]
use crate::audit::checkpoint::Ed25519Signer;
use crate::audit::checkpoint::Signer;
use crate::audit::checkpoint::{Checkpoint, PublicKey};
use crate::config::Settings;
use crate::domain::Timestamp;
#[cfg(feature = "local")]
use crate::domain::{Clock, SystemClock};
use crate::front::Outbox;
use crate::keys::AuditKey;
use crate::reply::{Audience, Notice};
use crate::store::aws::kms::{public_key, KmsSigner};
use crate::store::aws::{AwsStore, SealSettings};
#[cfg(feature = "local")]
use crate::store::local::LocalStore;
use crate::store::StoreError;

/// Where checkpoints come from.
#[derive(Clone)]
pub enum Checkpoints {
    /// The local store's head, signed now with the checkpoint key.
    #[cfg(feature = "local")]
    Local {
        /// The store.
        store: Arc<LocalStore>,
        /// The checkpoint key.
        signer: Arc<Ed25519Signer>,
    },
    /// The checkpoint of the AWS backend's newest seal.
    Aws {
        /// The store.
        store: Arc<AwsStore>,
        /// KMS, for the public key.
        kms: aws_sdk_kms::Client,
        /// The KMS key that signs seals' checkpoints, if set.
        kms_key: Option<String>,
    },
}

impl Checkpoints {
    /// The log's current checkpoint; `None` while there is nothing to vouch for (no chain yet
    /// locally, no seal with a checkpoint on AWS).
    pub async fn current(&self) -> anyhow::Result<Option<Checkpoint>> {
        match self {
            #[cfg(feature = "local")]
            Self::Local { store, signer } => {
                let Some(head) = store.audit_head().await? else {
                    return Ok(None);
                };
                let signer: &dyn Signer = signer.as_ref();
                Ok(Some(
                    Checkpoint::sign(&head, SystemClock.now(), signer).await?,
                ))
            }
            Self::Aws { store, .. } => Ok(store.latest_checkpoint().await?),
        }
    }

    /// The public key that checks these checkpoints: the local key's public half, or on AWS
    /// the KMS key's (read with `kms:GetPublicKey`, an operator's permission).
    pub async fn public_key(&self) -> anyhow::Result<PublicKey> {
        match self {
            #[cfg(feature = "local")]
            Self::Local { signer, .. } => Ok(signer.public_key().clone()),
            Self::Aws { kms, kms_key, .. } => {
                let key = kms_key.as_deref().context(
                    "OTPBOT_CHECKPOINT_KMS_KEY is not set: name the KMS key that signs the \
                     checkpoints (the Terraform output checkpoint_key_arn)",
                )?;
                Ok(public_key(kms, key).await?)
            }
        }
    }
}

/// Publishes checkpoints: to the log, and to the audit channel when one is set.
#[derive(Clone)]
pub struct Publisher {
    checkpoints: Checkpoints,
    channel: Option<String>,
    outbox: Outbox,
}

impl Publisher {
    /// A publisher of `checkpoints` to the log and the channel `settings` name, posting through
    /// `outbox`.
    pub fn new(checkpoints: Checkpoints, settings: &Settings, outbox: Outbox) -> Self {
        Self {
            checkpoints,
            channel: settings.audit_channel.clone(),
            outbox,
        }
    }

    /// Publishes the current checkpoint; `why` says what occasioned it. Failures are logged:
    /// a checkpoint that cannot be made is no reason to stop serving.
    pub async fn publish(&self, why: &'static str) {
        match self.checkpoints.current().await {
            Ok(Some(checkpoint)) => self.publish_this(&checkpoint, why).await,
            Ok(None) => tracing::info!(reason = why, "no audit checkpoint to publish yet"),
            Err(e) => {
                tracing::error!(reason = why, error = %format!("{e:#}"), "audit checkpoint failed")
            }
        }
    }

    /// Publishes `checkpoint`.
    pub async fn publish_this(&self, checkpoint: &Checkpoint, why: &'static str) {
        tracing::info!(
            reason = why,
            records = checkpoint.records,
            head = %checkpoint.head,
            checkpoint = %checkpoint.to_json(),
            "audit checkpoint"
        );
        let Some(channel) = &self.channel else {
            return;
        };
        let notice = Notice {
            to: Audience::Channel(channel.clone()),
            lines: vec![
                format!(
                    "Audit checkpoint: the log holds {} records; keep this line, `otpbot audit \
                     verify --checkpoint FILE` checks the log still extends it.",
                    checkpoint.records
                ),
                format!("`{}`", checkpoint.to_json()),
            ],
            buttons: Vec::new(),
        };
        if let Err(e) = self.outbox.post(&notice).await {
            tracing::warn!(error = %e, "audit checkpoint not posted in the audit channel");
        }
    }

    /// Publishes a checkpoint every `every` until dropped (the task is aborted).
    pub async fn every(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once: the start-up checkpoint.
        loop {
            ticks.tick().await;
            self.publish("scheduled").await;
        }
    }
}

/// The local store's checkpoint key: `checkpoint.key` beside `audit.key` (32 random bytes in
/// hex, the Ed25519 seed), created on first use. It signs checkpoints only and protects no
/// stored data, so a store that predates it simply gets one.
#[cfg(feature = "local")]
pub fn local_signer(settings: &Settings) -> anyhow::Result<Ed25519Signer> {
    let path = settings.key_path("checkpoint.key");
    let existed = path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::keys::create_private_dir(dir)
            .with_context(|| format!("cannot create the key directory {}", dir.display()))?;
    }
    let seed = crate::keys::load_or_create_key_file(&path).context("checkpoint key")?;
    let signer = Ed25519Signer::from_seed(&seed)?;
    if !existed {
        tracing::info!(
            key = %path.display(),
            key_id = %signer.public_key().fingerprint(),
            "created the audit checkpoint key; give auditors its public key \
             (`otpbot audit public-key`)"
        );
    }
    Ok(signer)
}

/// The checkpoint key's public half without creating anything: for `verify`, which writes
/// nothing. `None` when there is no key file.
#[cfg(feature = "local")]
pub fn existing_local_public_key(settings: &Settings) -> anyhow::Result<Option<PublicKey>> {
    let path = settings.key_path("checkpoint.key");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the checkpoint key {}", path.display()))?;
    let seed = crate::keys::decode_hex_key(&text, &path.display().to_string())?;
    Ok(Some(Ed25519Signer::from_seed(&seed)?.public_key().clone()))
}

/// The scheduled sealing run of the Lambda function: seals closed periods, each with a
/// checkpoint signed by the KMS key, and publishes the checkpoints.
pub struct Sealer {
    store: Arc<AwsStore>,
    s3: aws_sdk_s3::Client,
    signer: Option<KmsSigner>,
    settings: SealSettings,
    publisher: Publisher,
}

impl Sealer {
    /// A sealing run on `store` as `settings` say, signing with `OTPBOT_CHECKPOINT_KMS_KEY`.
    pub fn new(
        store: Arc<AwsStore>,
        sdk: &aws_config::SdkConfig,
        settings: &Settings,
        publisher: Publisher,
    ) -> Self {
        let signer = settings
            .checkpoint_kms_key
            .clone()
            .map(|key| KmsSigner::new(aws_sdk_kms::Client::new(sdk), key));
        if signer.is_none() {
            tracing::warn!(
                "OTPBOT_CHECKPOINT_KMS_KEY is not set: seals carry no signed checkpoint, so \
                 nobody without the audit key can check them"
            );
        }
        Self {
            store,
            s3: aws_sdk_s3::Client::new(sdk),
            signer,
            settings: settings.seal.clone(),
            publisher,
        }
    }

    /// Seals what is closed at `now`; returns how many periods it sealed.
    pub async fn run(&self, key: &AuditKey, now: Timestamp) -> Result<usize, StoreError> {
        let signer = self.signer.as_ref().map(|s| s as &dyn Signer);
        let sealed = self
            .store
            .seal_closed_periods(&self.s3, key, &self.settings, now, signer)
            .await?;
        tracing::info!(seals = sealed.len(), "sealed closed audit periods");
        if let Some((_, Some(checkpoint))) = sealed.last() {
            self.publisher.publish_this(checkpoint, "sealed").await;
        }
        Ok(sealed.len())
    }
}
