//! The canonical encoding of an audit record and the chain that links records.
//!
//! **Canonical encoding** (version 1), used for the chain and nothing else needs to parse it:
//! the bytes `otpbot-audit-v1\n`, then for each field in this fixed order — `id`, `at` (Unix
//! seconds in decimal), `request_id`, `actor`, `action`, `tool`, `subject`, `outcome`,
//! `detail`, `channel`, `code_mac` — either one byte `0x00` (absent) or one byte `0x01`, the
//! field's UTF-8 length as a 4-byte big-endian integer, and its UTF-8 bytes. Length prefixes
//! make the encoding injective: no two different records encode to the same bytes.
//!
//! **Chain**: `chain(n) = hex(HMAC-SHA256(audit key, chain(n-1) || canonical(record n)))`,
//! where `chain(n-1)` is the previous record's chain as its 64 lowercase hex characters (nothing
//! for the first record). Changing, removing, inserting or reordering a record changes every
//! chain value after it, and only a holder of the audit key can compute new ones.
//!
//! **JSON Lines** ([`json_line`]): one object per record with the stable field names of
//! [`JSON_FIELDS`] (keys sorted); absent fields are `null`, `time` is RFC 3339 UTC.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::domain::{
    Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};
use crate::keys::AuditKey;

const DOMAIN: &[u8] = b"otpbot-audit-v1\n";

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

/// One record as a JSON object with the fields of [`JSON_FIELDS`]; `chain` is added last when
/// given.
pub fn json_object(e: &AuditEvent, chain: Option<&str>) -> Value {
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
    if let Some(chain) = chain {
        object.insert("chain".into(), json!(chain));
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

/// One record as one line of JSON (no trailing newline).
pub fn json_line(e: &AuditEvent, chain: Option<&str>) -> String {
    json_object(e, chain).to_string()
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
