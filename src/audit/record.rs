//! An audit record as the chains and seals see it: its canonical encoding, and its position in
//! the local store's log.
//!
//! **Canonical encoding** (version 1), used for the chains (and so the seals' digests) and
//! nothing else needs to parse it: the bytes `otpbot-audit-v1\n`, then for
//! each field in this fixed order — `id`, `at` (Unix seconds in decimal), `request_id`, `actor`,
//! `action`, `tool`, `subject`, `outcome`, `detail`, `channel`, `code_mac` — either one byte
//! `0x00` (absent) or one byte `0x01`, the field's UTF-8 length as a 4-byte big-endian integer,
//! and its UTF-8 bytes. Length prefixes make the encoding injective: no two different records
//! encode to the same bytes. How records are linked by it is in [`super::chain`].

use crate::domain::AuditEvent;

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

/// Where a record of the local store sits in its log: its position and, once the chain has
/// started, its unkeyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Position in the log: 1, 2, 3, … in commit order.
    pub seq: i64,
    /// Its unkeyed hash; `None` for a record written before the chain started.
    pub hash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, EventId, Outcome, Principal, RequestId, Timestamp, ToolName};

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

    #[test]
    fn absent_and_empty_fields_encode_differently() {
        let mut empty = event();
        empty.detail = Some(String::new());
        assert_ne!(canonical(&empty), canonical(&event()));
    }
}
