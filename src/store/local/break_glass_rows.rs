//! Break-glass in SQLite: its row in `break_glass`, read back, written with its grant inside
//! the writer's transaction, and reviewed once. The one-per-period rule is checked on the
//! writer, so of two break-glasses by one person on one tool at once only the first commits.

use rusqlite::{params, Connection, OptionalExtension};

use super::sql::{backend, execute};
use crate::domain::{AccessRequestId, BreakGlass, Person, Principal, Review, Timestamp, ToolName};
use crate::store::{Change, StoreError, StoreResult, Verdict};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("break-glass: {e}"))
}

/// A `break_glass` row's columns, read by name.
struct Row {
    id: String,
    breaker: String,
    person: String,
    tool: String,
    reason: String,
    at: i64,
    until: i64,
    reviewed_by: Option<String>,
    reviewed_at: Option<i64>,
    review_ok: Option<bool>,
    review_reason: Option<String>,
}

/// The break-glass `id`, read on `conn`.
pub(super) fn break_glass_on(conn: &Connection, id: &str) -> StoreResult<Option<BreakGlass>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, breaker, person, tool, reason, at, until, reviewed_by, reviewed_at, \
             review_ok, review_reason FROM break_glass WHERE id = ?1",
        )
        .map_err(backend)?;
    let row: Option<Row> = stmt
        .query_row([id], |r| {
            Ok(Row {
                id: r.get("id")?,
                breaker: r.get("breaker")?,
                person: r.get("person")?,
                tool: r.get("tool")?,
                reason: r.get("reason")?,
                at: r.get("at")?,
                until: r.get("until")?,
                reviewed_by: r.get("reviewed_by")?,
                reviewed_at: r.get("reviewed_at")?,
                review_ok: r.get("review_ok")?,
                review_reason: r.get("review_reason")?,
            })
        })
        .optional()
        .map_err(backend)?;
    row.map(to_break_glass).transpose()
}

fn to_break_glass(row: Row) -> StoreResult<BreakGlass> {
    let review = match (row.reviewed_by, row.review_ok) {
        (Some(by), Some(ok)) => Some(Review {
            by: Principal::parse(&by).map_err(corrupt)?,
            at: Timestamp::from_unix(row.reviewed_at.unwrap_or_default()),
            ok,
            reason: row.review_reason,
        }),
        _ => None,
    };
    Ok(BreakGlass {
        id: AccessRequestId::parse(&row.id).ok_or_else(|| corrupt("id"))?,
        breaker: Principal::parse(&row.breaker).map_err(corrupt)?,
        person: Person::parse(&row.person).map_err(corrupt)?,
        tool: ToolName::parse(&row.tool).map_err(corrupt)?,
        reason: row.reason,
        at: Timestamp::from_unix(row.at),
        until: Timestamp::from_unix(row.until),
        review,
    })
}

/// Why a break-glass change cannot be made at `now`, if it cannot: the person broke the glass
/// on the tool within the period, or the break-glass to review is gone or reviewed.
pub(super) fn glass_check(
    conn: &Connection,
    change: &Change,
    now: Timestamp,
) -> StoreResult<Option<Verdict>> {
    match change {
        Change::BreakGlass {
            glass, every_secs, ..
        } => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT max(at) FROM break_glass WHERE person = ?1 AND tool = ?2 AND at > ?3",
                )
                .map_err(backend)?;
            let since = now.unix().saturating_sub(*every_secs);
            let last: Option<i64> = stmt
                .query_row(
                    params![glass.person.as_str(), glass.tool.as_str(), since],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(last
                .map(|at| Verdict::TooSoon(Timestamp::from_unix(at.saturating_add(*every_secs)))))
        }
        Change::ReviewBreakGlass { id, .. } => Ok(match break_glass_on(conn, id.as_str())? {
            None => Some(Verdict::NoRequest),
            Some(g) if g.review.is_some() => Some(Verdict::Decided),
            Some(_) => None,
        }),
        _ => Ok(None),
    }
}

/// Stores `glass` (its grant is written beside it).
pub(super) fn insert_glass(conn: &Connection, glass: &BreakGlass) -> StoreResult<()> {
    let sql = "INSERT INTO break_glass (id, breaker, person, tool, reason, at, until) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let args = params![
        glass.id.as_str(),
        glass.breaker.as_str(),
        glass.person.as_str(),
        glass.tool.as_str(),
        glass.reason,
        glass.at.unix(),
        glass.until.unix()
    ];
    execute(conn, sql, args).map(drop)
}

/// Records `review` of break-glass `id`, if not yet reviewed; `true` if it was recorded.
pub(super) fn review_glass(
    conn: &Connection,
    id: &AccessRequestId,
    review: &Review,
) -> StoreResult<bool> {
    let sql = "UPDATE break_glass SET reviewed_by = ?2, reviewed_at = ?3, review_ok = ?4, \
               review_reason = ?5 WHERE id = ?1 AND reviewed_by IS NULL";
    let args = params![
        id.as_str(),
        review.by.as_str(),
        review.at.unix(),
        review.ok,
        review.reason
    ];
    Ok(execute(conn, sql, args)? > 0)
}
