//! `otpbot audit checkpoint` and `otpbot audit public-key`: the log's signed checkpoint and the
//! public key that checks it.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{Backend, Settings};
#[cfg(feature = "local")]
use crate::startup::checkpoints::local_signer;
use crate::startup::checkpoints::Checkpoints;
#[cfg(not(feature = "local"))]
use crate::startup::no_local_store;
use crate::startup::{aws_config, App, Patience};
use crate::store::aws::AwsStore;

/// `otpbot audit checkpoint`: prints the log's current checkpoint as one JSON object.
pub(super) async fn print(mut settings: Settings) -> anyhow::Result<()> {
    let checkpoints = match settings.backend {
        // The newest seal's checkpoint: the table's read, no audit key needed.
        Backend::Aws => aws_checkpoints(&settings).await?,
        Backend::Local => {
            let policy = settings.policy();
            App::open(&mut settings, policy, Patience::Operator)
                .await?
                .checkpoints
        }
    };
    let checkpoint = checkpoints.current().await?.context(
        "no checkpoint yet: the log has no seal with a signed checkpoint (the scheduled sealing \
         run writes one per sealed period when OTPBOT_CHECKPOINT_KMS_KEY is set)",
    )?;
    say!("{}", checkpoint.to_json());
    Ok(())
}

/// `otpbot audit public-key`: prints the checkpoint key's public half as PEM. Locally it
/// creates the key on first use, as any start does; on AWS it asks KMS (`kms:GetPublicKey`).
pub(super) async fn print_public_key(settings: Settings) -> anyhow::Result<()> {
    let key = match settings.backend {
        Backend::Aws => aws_checkpoints(&settings).await?.public_key().await?,
        #[cfg(feature = "local")]
        Backend::Local => local_signer(&settings)?.public_key().clone(),
        #[cfg(not(feature = "local"))]
        Backend::Local => return Err(no_local_store()),
    };
    say!("{}", key.to_pem().trim_end());
    Ok(())
}

async fn aws_checkpoints(settings: &Settings) -> anyhow::Result<Checkpoints> {
    let sdk = aws_config(Patience::Operator).await?;
    Ok(Checkpoints::Aws {
        store: Arc::new(AwsStore::new(&sdk, settings.aws.clone())),
        kms: aws_sdk_kms::Client::new(&sdk),
        kms_key: settings.checkpoint_kms_key.clone(),
    })
}
