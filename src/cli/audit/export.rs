//! The formats of `otpbot audit`: aligned columns, CSV, one JSON array, JSON Lines. Events are
//! written as they come, page by page, so an export of any size streams. A reader that closes
//! the pipe early (`| head`) ends the export quietly: the write error goes up as an
//! `io::Error` of kind `BrokenPipe`, which `main` takes for success.

use std::io::Write;

use clap::ValueEnum;
use serde_json::json;

use crate::audit::jsonl::json_line;
use crate::audit::record::Position;
use crate::domain::{AuditEvent, Principal, ToolName};

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// RFC 4180 CSV with a header row; cells that a spreadsheet would run as a formula are
    /// neutralised.
    Csv,
    /// One JSON array of objects, every field a string.
    Json,
    /// JSON Lines for a SIEM: one event per line, stable field names, absent fields `null`;
    /// the same encoding as the sealed copies, plus each record's position and hash on the
    /// local store (what `otpbot audit verify --export` checks).
    Jsonl,
}

/// The export's columns: the same stable names, in the same order, as the JSON Lines export.
const COLUMNS: [&str; 11] = crate::audit::jsonl::JSON_FIELDS;

fn fields(e: &AuditEvent) -> [String; 11] {
    let opt = |v: Option<&str>| v.unwrap_or_default().to_owned();
    [
        e.at.to_string(),
        e.id.to_string(),
        e.request_id.to_string(),
        e.actor.to_string(),
        e.action.to_string(),
        opt(e.tool.as_ref().map(ToolName::as_str)),
        opt(e.subject.as_ref().map(Principal::as_str)),
        e.outcome.to_string(),
        opt(e.detail.as_deref()),
        opt(e.channel.as_deref()),
        opt(e.code_mac.as_deref()),
    ]
}

/// A CSV cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`, so it is shown as text (OWASP, "CSV Injection":
/// <https://owasp.org/www-community/attacks/CSV_Injection>). A reason typed in chat reaches
/// the export as it was typed, so every cell is treated so.
pub fn neutralise(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// A CSV error as what it is: a write error of the output stays an `io::Error` (a closed pipe
/// is recognised by its kind).
fn csv_error(err: csv::Error) -> anyhow::Error {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => anyhow::anyhow!("cannot write CSV: {other:?}"),
    }
}

/// Where events go, in the chosen format.
pub enum Sink<W: Write> {
    /// Aligned columns.
    Table(W),
    /// CSV.
    Csv(Box<csv::Writer<W>>),
    /// A JSON array; `true` once its first element is written.
    Json(W, bool),
    /// JSON Lines.
    Jsonl(W),
}

impl<W: Write> Sink<W> {
    /// Starts the output (headers, the array's opening bracket).
    pub fn new(format: Format, mut out: W) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Table => {
                writeln!(
                    out,
                    "{:<20} {:<28} {:<11} {:<16} {:<13} subject / detail",
                    "time", "actor", "action", "tool", "outcome"
                )?;
                Sink::Table(out)
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(COLUMNS).map_err(csv_error)?;
                Sink::Csv(Box::new(w))
            }
            Format::Json => {
                write!(out, "[")?;
                Sink::Json(out, false)
            }
            Format::Jsonl => Sink::Jsonl(out),
        })
    }

    /// Writes one event; `position` is where it sits in the local store's log.
    pub fn write(&mut self, event: &AuditEvent, position: Option<&Position>) -> anyhow::Result<()> {
        let f = fields(event);
        match self {
            Sink::Jsonl(out) => writeln!(out, "{}", json_line(event, position))?,
            Sink::Table(out) => {
                let rest: Vec<&str> = [f[6].as_str(), f[8].as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect();
                writeln!(
                    out,
                    "{:<20} {:<28} {:<11} {:<16} {:<13} {}",
                    f[0],
                    f[3],
                    f[4],
                    f[5],
                    f[7],
                    rest.join(" ")
                )?;
            }
            Sink::Csv(w) => w.write_record(f.map(neutralise)).map_err(csv_error)?,
            Sink::Json(out, started) => {
                let object: serde_json::Map<_, _> = COLUMNS
                    .iter()
                    .zip(f)
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                let separator = if *started { "," } else { "" };
                write!(out, "{separator}\n{}", serde_json::Value::Object(object))?;
                *started = true;
            }
        }
        Ok(())
    }

    /// Ends the output (the array's closing bracket) and flushes it.
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Table(mut out) | Sink::Jsonl(mut out) => out.flush()?,
            Sink::Json(mut out, started) => {
                writeln!(out, "{}]", if started { "\n" } else { "" })?;
                out.flush()?;
            }
            Sink::Csv(mut w) => w.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("release 2.0", "release 2.0"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell.to_owned()), shown, "{cell:?}");
        }
    }
}
