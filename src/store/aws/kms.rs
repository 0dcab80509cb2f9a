//! The AWS deployment's checkpoint key: an asymmetric KMS key of spec `ECC_NIST_P256` and
//! usage `SIGN_VERIFY` (the Terraform module's), which signs checkpoints with
//! `ECDSA_SHA_256`. The function only ever calls `Sign`
//! (<https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html>); `GetPublicKey`
//! (<https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html>) is for the
//! operator's `otpbot audit public-key` and `verify`. The private key never leaves KMS.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client as Kms;

use super::sdk_error::describe;
use crate::audit::checkpoint::{Algorithm, PublicKey, SignError, Signer};

/// Signs checkpoints with a KMS key.
pub struct KmsSigner {
    kms: Kms,
    key_id: String,
}

impl KmsSigner {
    /// A signer using `key_id` (a key id, ARN or alias) through `kms`.
    pub fn new(kms: Kms, key_id: String) -> Self {
        Self { kms, key_id }
    }
}

#[async_trait]
impl Signer for KmsSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::EcdsaP256Sha256
    }

    /// KMS hashes the message with SHA-256 (`MessageType = RAW`) and answers the DER-encoded
    /// ECDSA signature.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let out = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| {
                SignError(format!(
                    "cannot sign the audit checkpoint: KMS Sign with {}: {}",
                    self.key_id,
                    describe(&e)
                ))
            })?;
        out.signature
            .map(Blob::into_inner)
            .ok_or_else(|| SignError("KMS answered Sign without a signature".into()))
    }
}

/// The public half of the KMS checkpoint key `key_id`; refuses a key that is not an
/// `ECC_NIST_P256` signing key.
pub async fn public_key(kms: &Kms, key_id: &str) -> Result<PublicKey, SignError> {
    let out = kms
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| SignError(format!("KMS GetPublicKey of {key_id}: {}", describe(&e))))?;
    let signs = out
        .signing_algorithms()
        .contains(&SigningAlgorithmSpec::EcdsaSha256);
    let der = out
        .public_key
        .map(Blob::into_inner)
        .ok_or_else(|| SignError("KMS answered GetPublicKey without a key".into()))?;
    let key = PublicKey::from_der(der);
    // The key itself says its curve (`KeySpec` would too, but some emulators answer only the
    // deprecated `CustomerMasterKeySpec` in its place).
    if !signs || !key.fits(Algorithm::EcdsaP256Sha256) {
        return Err(SignError(format!(
            "KMS key {key_id} is not an ECC_NIST_P256 key that signs with ECDSA_SHA_256"
        )));
    }
    Ok(key)
}
