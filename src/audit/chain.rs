//! The two chains that link audit records, each record by its canonical encoding (see
//! [`super::record`]).
//!
//! **Keyed chain** ([`link`]): `chain(n) = hex(HMAC-SHA256(audit key, chain(n-1) ||
//! canonical(record n)))`, where `chain(n-1)` is the previous record's chain as its 64 lowercase
//! hex characters (nothing for the first record). Changing, removing, inserting or reordering a
//! record changes every chain value after it, and only a holder of the audit key can compute
//! new ones.
//!
//! **Unkeyed hash chain** ([`hash_link`]): `hash(n) = hex(SHA-256("otpbot-audit-hash-v1\n" ||
//! hash(n-1) || canonical(record n)))`, `hash(n-1)` again as 64 hex characters, nothing for the
//! log's first record (its chain-start record on the local store). Anyone can compute it from
//! the records alone, so it proves nothing by itself; a signed checkpoint of `(n, hash(n))`
//! (see [`super::checkpoint`]) fixes the first `n` records for everyone holding it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::keys::AuditKey;

const HASH_DOMAIN: &[u8] = b"otpbot-audit-hash-v1\n";

/// The chain value of a record whose canonical encoding is `record`, after `previous`.
pub fn link(key: &AuditKey, previous: Option<&str>, record: &[u8]) -> String {
    let mut mac: Hmac<Sha256> = key.hmac();
    mac.update(previous.unwrap_or_default().as_bytes());
    mac.update(record);
    hex::encode(mac.finalize().into_bytes())
}

/// The unkeyed hash of a record whose canonical encoding is `record`, after `previous` (the
/// previous record's hash; `None` for the first record of the chain).
pub fn hash_link(previous: Option<&str>, record: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(HASH_DOMAIN);
    hash.update(previous.unwrap_or_default().as_bytes());
    hash.update(record);
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;
    use crate::audit::record::canonical;
    use crate::domain::{
        Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
    };

    fn event() -> AuditEvent {
        AuditEvent {
            id: EventId::from_stored("01JDEMO0000000000000000000".into()),
            at: Timestamp::from_unix(1_900_000_000),
            request_id: RequestId::from_stored("req1".into()),
            actor: Principal::parse("slack:T0DEMO:UALICE").expect("principal"),
            action: Action::Code,
            tool: Some(ToolName::parse("github").expect("tool")),
            subject: None,
            outcome: Outcome::Issued,
            detail: None,
            channel: Some("C01".into()),
            code_mac: Some("ab,cd".into()),
        }
    }

    /// The expected values were computed from the documented encoding with Python's `hmac`
    /// and `struct` modules, independently of this code:
    /// `hmac.new(bytes(range(32)), prev + enc, hashlib.sha256).hexdigest()`.
    #[test]
    fn chain_matches_the_documented_encoding() {
        let key = AuditKey::new(SecretBox::new(Box::new((0u8..32).collect())));
        let record = canonical(&event());
        let first = link(&key, None, &record);
        assert_eq!(
            first,
            "34faa15746a85f705f803a52c00cadc1a7f7b7f46386ecd9c0c1e6836defbae4"
        );
        assert_eq!(
            link(&key, Some(&first), &record),
            "d7455f96772c256a4fd8b0128c62c3b773f423004b874e29d0ea1715de9b1576"
        );
    }

    /// Computed from the documented encoding with Python's `hashlib`, independently of this
    /// code: `sha256(b"otpbot-audit-hash-v1\n" + prev + enc).hexdigest()`.
    #[test]
    fn hash_chain_matches_the_documented_encoding() {
        let record = canonical(&event());
        let first = hash_link(None, &record);
        assert_eq!(
            first,
            "a94c3194bc709a5e3df18cc47514c9e7c81293db5d1cec0cbf347654c617a444"
        );
        assert_eq!(
            hash_link(Some(&first), &record),
            "b8beca3fd82ef8950a8f9948a8497ae8c496c061a075b28c55d48f14dc5f9eac"
        );
    }
}
