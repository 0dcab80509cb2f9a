//! An audit record as JSON Lines: the format of `otpbot audit --format jsonl` and of the AWS
//! backend's locked copies of sealed periods.
//!
//! One object per record with the stable field names of [`JSON_FIELDS`] (keys sorted); absent
//! fields are `null`, `time` is RFC 3339 UTC. Records of the local store also carry `seq`
//! (their position in the log) and, from the chain start on, `hash`, so an export can be checked
//! against checkpoints without the store.

use serde_json::{json, Map, Value};

use super::record::Position;
use crate::domain::{
    Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp, ToolName,
};

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

/// The records as JSON Lines, one per line, each line ending in `\n`.
pub fn jsonl(events: &[AuditEvent]) -> String {
    events.iter().map(|e| json_line(e, None) + "\n").collect()
}

/// Reads back [`jsonl`]; `None` if a line is not a record otpbot could have written.
pub fn parse_jsonl(text: &str) -> Option<Vec<AuditEvent>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .ok()
                .and_then(|v| from_json_object(&v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
