//! The canonical encoding of an audit record and the two chains that link records.
//!
//! **Canonical encoding** (version 1), used for the chains and nothing else needs to parse it:
//! the bytes `otpbot-audit-v1\n`, then for each field in this fixed order — `id`, `at` (Unix
//! seconds in decimal), `request_id`, `actor`, `action`, `tool`, `subject`, `outcome`,
//! `detail`, `channel`, `code_mac` — either one byte `0x00` (absent) or one byte `0x01`, the
//! field's UTF-8 length as a 4-byte big-endian integer, and its UTF-8 bytes. Length prefixes
//! make the encoding injective: no two different records encode to the same bytes.
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
//!
//! **JSON Lines** ([`json_line`]): one object per record with the stable field names of
//! [`JSON_FIELDS`] (keys sorted); absent fields are `null`, `time` is RFC 3339 UTC. Records of
//! the local store also carry `seq` (their position in the log) and, from the chain start on,
//! `hash`, so an export can be checked against checkpoints without the store.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::{
    Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};
use crate::keys::AuditKey;

const DOMAIN: &[u8] = b"otpbot-audit-v1\n";
const HASH_DOMAIN: &[u8] = b"otpbot-audit-hash-v1\n";

/// The fields of a record in canonical order, as text (`at` in Unix seconds).
fn canonical_fields(e: &AuditEvent) -> [Option<String>; 11] {
    [
        Some(e.id.as_str().to_owned()),
        Some(e.at.unix().to_string()),
        Some(e.request_id.as_str().to_owned()),
        Some(e.actor.as_str().to_owned()),
        Some(e.action.as_str().to_owned()),
        e.tool.as_ref().map(|t| t.as_str().to_owned()),
        e.subject.as_ref().map(|s| s.as_str().to_owned()),
        Some(e.outcome.as_str().to_owned()),
        e.detail.clone(),
        e.channel.clone(),
        e.code_mac.clone(),
    ]
}

/// The canonical encoding of `event` (see the module documentation).
pub fn canonical(event: &AuditEvent) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    encode_fields(&mut out, canonical_fields(event));
    out
}

/// Appends `fields` to `out`, each as `0x00` (absent) or `0x01`, a 4-byte big-endian length and
/// the UTF-8 bytes: the field encoding of the canonical record, shared by the seals.
pub(crate) fn encode_fields(out: &mut Vec<u8>, fields: impl IntoIterator<Item = Option<String>>) {
    for field in fields {
        match field {
            None => out.push(0),
            Some(text) => {
                out.push(1);
                let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
}

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

/// Where a record of the local store sits in its log: its position and, once the chain has
/// started, its unkeyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Position in the log: 1, 2, 3, … in commit order.
    pub seq: i64,
    /// Its unkeyed hash; `None` for a record written before the chain started.
    pub hash: Option<String>,
}

/// The stable field names of the JSON Lines export, in order.
pub const JSON_FIELDS: [&str; 11] = [
    "time",
    "id",
    "request_id",
    "actor",
    "action",
    "tool",
    "subject",
    "outcome",
    "detail",
    "channel",
    "code_mac",
];

/// One record as a JSON object with the fields of [`JSON_FIELDS`], and `seq` and `hash` when its
/// position is given.
pub fn json_object(e: &AuditEvent, position: Option<&Position>) -> Value {
    let values = [
        json!(e.at.to_string()),
        json!(e.id.as_str()),
        json!(e.request_id.as_str()),
        json!(e.actor.as_str()),
        json!(e.action.as_str()),
        json!(e.tool.as_ref().map(ToolName::as_str)),
        json!(e.subject.as_ref().map(Principal::as_str)),
        json!(e.outcome.as_str()),
        json!(e.detail),
        json!(e.channel),
        json!(e.code_mac),
    ];
    let mut object: Map<String, Value> = JSON_FIELDS
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), v))
        .collect();
    if let Some(position) = position {
        object.insert("seq".into(), json!(position.seq));
        object.insert("hash".into(), json!(position.hash));
    }
    Value::Object(object)
}

/// Reads back a record written by [`json_object`]; `None` if any field is not one otpbot could
/// have written.
pub fn from_json_object(v: &Value) -> Option<AuditEvent> {
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let opt = |k: &str| match v.get(k) {
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        _ => None,
    };
    Some(AuditEvent {
        id: EventId::from_stored(text("id")?.to_owned()),
        at: Timestamp::parse(text("time")?)?,
        request_id: RequestId::from_stored(text("request_id")?.to_owned()),
        actor: Principal::parse(text("actor")?).ok()?,
        action: Action::parse(text("action")?)?,
        tool: opt("tool")?
            .map(|t| ToolName::parse(&t).ok())
            .map_or(Some(None), |t| t.map(Some))?,
        subject: opt("subject")?
            .map(|p| Principal::parse(&p).ok())
            .map_or(Some(None), |p| p.map(Some))?,
        outcome: Outcome::parse(text("outcome")?)?,
        detail: opt("detail")?,
        channel: opt("channel")?,
        code_mac: opt("code_mac")?,
    })
}

/// Reads back the position [`json_object`] wrote: `None` when the line has none (an export of
/// the AWS backend); an error when it is not one otpbot writes.
pub fn position_from_json(v: &Value) -> Result<Option<Position>, &'static str> {
    let seq = match v.get("seq") {
        None | Some(Value::Null) => return Ok(None),
        Some(seq) => seq.as_i64().ok_or("seq is not a whole number")?,
    };
    let hash = match v.get("hash") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.clone())
        }
        Some(_) => return Err("hash is not 64 hex characters"),
    };
    Ok(Some(Position { seq, hash }))
}

/// One record as one line of JSON (no trailing newline).
pub fn json_line(e: &AuditEvent, position: Option<&Position>) -> String {
    json_object(e, position).to_string()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;

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

    #[test]
    fn absent_and_empty_fields_encode_differently() {
        let mut empty = event();
        empty.detail = Some(String::new());
        assert_ne!(canonical(&empty), canonical(&event()));
    }

    #[test]
    fn json_line_has_stable_names_and_nulls() {
        let line: Value = serde_json::from_str(&json_line(&event(), None)).expect("json");
        let keys: Vec<&str> = line
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = JSON_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(line["subject"], Value::Null);
        assert_eq!(line["time"], "2030-03-17T17:46:40Z");
        assert_eq!(line["tool"], "github");
        assert_eq!(
            from_json_object(&line),
            Some(event()),
            "a line reads back as written"
        );
    }
}
