//! The keys of checkpoints: how a checkpoint is signed ([`Algorithm`]), the [`Signer`]s (the
//! local store's Ed25519 key here; the AWS deployment's KMS key in the AWS store), and the
//! [`PublicKey`] that checks a signature, read from and written as PEM.

use async_trait::async_trait;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::keys::KeyBytes;

const PEM_TAG: &str = "PUBLIC KEY";

/// How a checkpoint is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (the local store's checkpoint key).
    Ed25519,
    /// ECDSA on NIST P-256 with SHA-256, DER signature (the AWS deployment's KMS key).
    EcdsaP256Sha256,
}

impl Algorithm {
    /// The name in a checkpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        [Self::Ed25519, Self::EcdsaP256Sha256]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::Ed25519 => &signature::ED25519,
            Self::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
        }
    }
}

/// Why a checkpoint could not be signed, or its key not read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignError(pub String);

/// A key that signs checkpoints: the local Ed25519 key, or a KMS key on AWS.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The key's id, as written into the checkpoint.
    fn key_id(&self) -> &str;
    /// How it signs.
    fn algorithm(&self) -> Algorithm;
    /// Signs `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A public key that checks checkpoint signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl PublicKey {
    /// Whether this is a key of `algorithm` (for ECDSA, a point on its curve).
    pub fn fits(&self, algorithm: Algorithm) -> bool {
        signature::ParsedPublicKey::new(algorithm.verification(), &self.der).is_ok()
    }

    /// Whether `signature` is this key's over `message` under `algorithm`.
    pub fn verifies(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(algorithm.verification(), &self.der)
            .verify(message, signature)
            .is_ok()
    }

    /// A key from its DER `SubjectPublicKeyInfo` (what KMS `GetPublicKey` answers).
    pub fn from_der(der: Vec<u8>) -> Self {
        Self { der }
    }

    /// A key from a PEM `PUBLIC KEY` block.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem::parse(text).map_err(|e| format!("not a PEM public key: {e}"))?;
        if block.tag() != PEM_TAG {
            return Err(format!(
                "a PEM block of type `{}`, not `{PEM_TAG}`",
                block.tag()
            ));
        }
        Ok(Self::from_der(block.into_contents()))
    }

    /// The key as a PEM `PUBLIC KEY` block, lines ending in `\n`.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new(PEM_TAG, self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// `sha256:` and the hex SHA-256 of the DER encoding: the id of a local key.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.der)))
    }
}

/// The local store's checkpoint key: Ed25519 from a 32-byte seed kept like the other keys.
pub struct Ed25519Signer {
    pair: Ed25519KeyPair,
    public: PublicKey,
    key_id: String,
}

impl Ed25519Signer {
    /// The key whose seed is `seed` (32 bytes).
    pub fn from_seed(seed: &KeyBytes) -> Result<Self, SignError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose_secret())
            .map_err(|e| SignError(format!("the checkpoint key is not an Ed25519 seed: {e}")))?;
        let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            pair.public_key(),
        )
        .map_err(|_| SignError("cannot encode the checkpoint public key".into()))?;
        let public = PublicKey::from_der(der.as_ref().to_vec());
        let key_id = public.fingerprint();
        Ok(Self {
            pair,
            public,
            key_id,
        })
    }

    /// Its public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

#[async_trait]
impl Signer for Ed25519Signer {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Ed25519
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.pair.sign(message).as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
    };
    use secrecy::SecretBox;

    use super::*;

    fn ecdsa(alg: &'static signature::EcdsaSigningAlgorithm) -> (EcdsaKeyPair, PublicKey) {
        let pair = EcdsaKeyPair::generate(alg).expect("key");
        let der = AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).expect("der");
        (pair, PublicKey::from_der(der.as_ref().to_vec()))
    }

    /// A DER ECDSA P-256 signature over SHA-256, as KMS answers `Sign`, verifies; a key of
    /// another curve or algorithm is told apart before any signature is checked.
    #[test]
    fn keys_are_told_apart_by_algorithm_and_curve() {
        let (pair, p256) = ecdsa(&ECDSA_P256_SHA256_ASN1_SIGNING);
        let signature = pair.sign(&SystemRandom::new(), b"message").expect("sign");
        assert!(p256.fits(Algorithm::EcdsaP256Sha256));
        assert!(p256.verifies(Algorithm::EcdsaP256Sha256, b"message", signature.as_ref()));
        assert!(!p256.verifies(Algorithm::EcdsaP256Sha256, b"massage", signature.as_ref()));
        let (_, p384) = ecdsa(&ECDSA_P384_SHA384_ASN1_SIGNING);
        assert!(!p384.fits(Algorithm::EcdsaP256Sha256), "another curve");
        let ed = Ed25519Signer::from_seed(&SecretBox::new(Box::new(vec![1u8; 32]))).expect("key");
        assert!(!ed.public_key().fits(Algorithm::EcdsaP256Sha256));
        assert!(ed.public_key().fits(Algorithm::Ed25519));
        let pem = p256.to_pem();
        assert_eq!(PublicKey::from_pem(&pem), Ok(p256));
        assert!(PublicKey::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
