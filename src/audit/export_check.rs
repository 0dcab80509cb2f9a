//! The check of an exported log without the store or the audit key: the JSON Lines of
//! `otpbot audit --format jsonl`, or the records objects of the AWS bucket put one after
//! another. It recomputes the unkeyed hash chain over the records in log order, for
//! [`super::checkpoint::check`] to compare with signed checkpoints: that comparison, not this
//! one, is what an outsider can rely on, since anyone can recompute unkeyed hashes.
//!
//! Log order: a local store's export carries each record's position (`seq`) and hash, and the
//! chain begins at its chain-start record; an AWS export carries neither, and its chain runs
//! over every record in id order (the order seals hash them in).

use std::collections::BTreeSet;

use serde_json::Value;

use super::chain::hash_link;
use super::checkpoint::Heads;
use super::discrepancy::Discrepancy;
use super::jsonl::{from_json_object, position_from_json};
use super::record::{canonical, Position};
use super::verified::Verified;
use crate::domain::{Action, AuditEvent};

/// One record of an export, with the line it was on.
struct Line {
    number: usize,
    event: AuditEvent,
    position: Option<Position>,
}

fn unreadable(number: usize, what: impl Into<String>) -> Discrepancy {
    Discrepancy::LineUnreadable {
        line: number,
        what: what.into(),
    }
}

/// The records of `text`, one JSON object per line (blank lines skipped).
fn read(text: &str) -> Result<Vec<Line>, Discrepancy> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(raw).map_err(|_| unreadable(number, "not a JSON object"))?;
        let event = from_json_object(&value).ok_or_else(|| {
            unreadable(
                number,
                "a field is missing or holds a value otpbot never writes",
            )
        })?;
        let position = position_from_json(&value).map_err(|why| unreadable(number, why))?;
        lines.push(Line {
            number,
            event,
            position,
        });
    }
    Ok(lines)
}

/// Checks the export `text` and collects the hashes at the `wanted` positions of its chain.
pub fn verify_export(text: &str, wanted: &BTreeSet<u64>) -> Result<(Verified, Heads), Discrepancy> {
    let mut lines = read(text)?;
    let positioned = lines.iter().filter(|l| l.position.is_some()).count();
    if positioned > 0 && positioned < lines.len() {
        let odd = lines
            .iter()
            .find(|l| l.position.is_none())
            .map_or(0, |l| l.number);
        return Err(unreadable(
            odd,
            "it has no position (`seq`) while other lines do",
        ));
    }
    if positioned > 0 {
        lines.sort_by_key(|l| l.position.as_ref().map_or(0, |p| p.seq));
        local_chain(&lines, wanted)
    } else {
        lines.sort_by(|a, b| a.event.id.cmp(&b.event.id));
        sealed_chain(&lines, wanted)
    }
}

fn seq(line: &Line) -> i64 {
    line.position.as_ref().map_or(0, |p| p.seq)
}

/// A local store's export: positions without gaps, the chain from its chain-start record,
/// each hash the one written with the record.
fn local_chain(lines: &[Line], wanted: &BTreeSet<u64>) -> Result<(Verified, Heads), Discrepancy> {
    for pair in lines.windows(2) {
        let (a, b) = (seq(&pair[0]), seq(&pair[1]));
        if b == a {
            return Err(unreadable(
                pair[1].number,
                format!("position #{b} appears twice"),
            ));
        }
        if b != a + 1 {
            return Err(Discrepancy::RecordMissing {
                first: a + 1,
                last: b - 1,
            });
        }
    }
    let start = lines
        .iter()
        .position(|l| l.event.action == Action::ChainStart)
        .ok_or(Discrepancy::ChainStartMissing)?;
    let mut heads = Heads::default();
    let mut previous: Option<String> = None;
    for (index, line) in lines[start..].iter().enumerate() {
        let hash = hash_link(previous.as_deref(), &canonical(&line.event));
        let (seq, id) = (seq(line), line.event.id.to_string());
        match line.position.as_ref().and_then(|p| p.hash.as_deref()) {
            None => return Err(Discrepancy::Unlinked { seq, id }),
            Some(written) if written != hash => {
                return Err(Discrepancy::RecordAltered { seq, id });
            }
            Some(_) => {}
        }
        heads.extend(index as u64 + 1, &hash, wanted);
        previous = Some(hash);
    }
    Ok((summary(&lines[start..], start), heads))
}

/// An AWS export: every record in id order, one chain from the first.
fn sealed_chain(lines: &[Line], wanted: &BTreeSet<u64>) -> Result<(Verified, Heads), Discrepancy> {
    let mut heads = Heads::default();
    let mut previous: Option<String> = None;
    for (index, line) in lines.iter().enumerate() {
        if index > 0 && lines[index - 1].event.id == line.event.id {
            return Err(unreadable(
                line.number,
                format!("record id {} appears twice", line.event.id),
            ));
        }
        let hash = hash_link(previous.as_deref(), &canonical(&line.event));
        heads.extend(index as u64 + 1, &hash, wanted);
        previous = Some(hash);
    }
    Ok((summary(lines, 0), heads))
}

fn summary(checked: &[Line], unchained: usize) -> Verified {
    Verified {
        records: checked.len(),
        span: checked
            .first()
            .zip(checked.last())
            .map(|(a, b)| (a.event.at, b.event.at)),
        unchained,
        ..Verified::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::jsonl::json_line;
    use crate::domain::{EventId, Outcome, Principal, RequestId, Timestamp};

    fn event(n: i64, action: Action) -> AuditEvent {
        let at = Timestamp::from_unix(1_900_000_000 + n);
        AuditEvent {
            id: EventId::new(at),
            at,
            request_id: RequestId::new(),
            actor: Principal::parse("cli:local:ops").expect("principal"),
            action,
            tool: None,
            subject: None,
            outcome: Outcome::Ok,
            detail: Some(format!("n={n}")),
            channel: None,
            code_mac: None,
        }
    }

    /// A local export of a chain start and `n` more records, newest first as the CLI writes it.
    fn export(n: i64) -> (Vec<String>, Vec<String>) {
        let mut lines = Vec::new();
        let mut hashes = Vec::new();
        let mut previous: Option<String> = None;
        for i in 0..=n {
            let e = event(
                i,
                if i == 0 {
                    Action::ChainStart
                } else {
                    Action::Audit
                },
            );
            let hash = hash_link(previous.as_deref(), &canonical(&e));
            let position = Position {
                seq: i + 1,
                hash: Some(hash.clone()),
            };
            lines.push(json_line(&e, Some(&position)));
            hashes.push(hash.clone());
            previous = Some(hash);
        }
        lines.reverse();
        (lines, hashes)
    }

    #[test]
    fn an_export_recomputes_the_hashes_the_store_wrote() {
        let (lines, hashes) = export(4);
        let wanted = BTreeSet::from([3]);
        let (verified, heads) = verify_export(&lines.join("\n"), &wanted).expect("intact");
        assert_eq!(verified.records, 5);
        assert_eq!(heads.records, 5);
        assert_eq!(heads.at.get(&3), Some(&hashes[2]));
    }

    #[test]
    fn a_record_removed_from_an_export_is_named() {
        let (mut lines, _) = export(4);
        lines.remove(1);
        let err = verify_export(&lines.join("\n"), &BTreeSet::new()).expect_err("gap");
        assert_eq!(err, Discrepancy::RecordMissing { first: 4, last: 4 });
    }
}
