//! Break-glass in the access table:
//!
//! - the record: `pk = BG#{id}`, `sk = BG`, with who, which tool, why, when, until when, and
//!   its review once given. Reviewing it is an `Update` conditioned on
//!   `attribute_exists(pk) AND attribute_not_exists(reviewed_by)`: the first review wins.
//! - the person's lease for the tool: `pk = BGP#{person}`, `sk = BG#{tool}`, holding `until`,
//!   the end of the period. Breaking the glass puts it on condition that no live one holds its
//!   key (`attribute_not_exists(pk) OR until <= :now`, see [`super::transaction`]), so one
//!   person breaks the glass on one tool once per period, exactly, however many try at once.
//!
//! Both are written in the decision's `TransactWriteItems` with the grant and the record
//! (conditions as in the DynamoDB Developer Guide, "Condition and filter expressions":
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html>).

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::access_items::grant_item;
use super::handle::AwsStore;
use super::item::{get_n, get_s, key_of, n, opt_s, s, Item, ItemBuilder};
use super::key_layout::principal_pk;
use super::schema::{ACCESS_PK, ACCESS_SK, TTL_ATTRIBUTE};
use super::sdk_error::built;
use super::transaction::{put_new, put_unless_live, Part};
use crate::domain::{
    AccessRequestId, BreakGlass, Grant, Person, Principal, Review, Timestamp, ToolName,
};
use crate::store::{StoreError, StoreResult, Verdict};

/// Attribute: the end of a person's break-glass period for a tool.
const UNTIL: &str = "until";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("break-glass: {e}"))
}

fn glass_pk(id: &AccessRequestId) -> String {
    format!("BG#{id}")
}

fn lease_key(person: &Person, tool: &ToolName) -> Item {
    key_of(format!("BGP#{person}"), &format!("BG#{tool}"))
}

fn glass_from(item: &Item) -> StoreResult<BreakGlass> {
    let review = match opt_s(item, "reviewed_by") {
        Some(by) => Some(Review {
            by: Principal::parse(&by).map_err(corrupt)?,
            at: Timestamp::from_unix(get_n(item, "reviewed_at")?),
            ok: get_s(item, "review")? == "ok",
            reason: opt_s(item, "review_reason"),
        }),
        None => None,
    };
    Ok(BreakGlass {
        id: AccessRequestId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        breaker: Principal::parse(get_s(item, "breaker")?).map_err(corrupt)?,
        person: Person::parse(get_s(item, "person")?).map_err(corrupt)?,
        tool: ToolName::parse(get_s(item, "tool")?).map_err(corrupt)?,
        reason: get_s(item, "reason")?.to_owned(),
        at: Timestamp::from_unix(get_n(item, "at")?),
        until: Timestamp::from_unix(get_n(item, UNTIL)?),
        review,
    })
}

impl AwsStore {
    /// The break-glass `id`, read consistently.
    pub(super) async fn glass_item(&self, id: &AccessRequestId) -> StoreResult<Option<BreakGlass>> {
        self.get(glass_pk(id), "BG".into())
            .await?
            .as_ref()
            .map(glass_from)
            .transpose()
    }

    /// The items that break the glass at `now`: the person's lease for the period, the record,
    /// the grant.
    pub(super) fn break_glass_items(
        &self,
        glass: &BreakGlass,
        grant: &Grant,
        every_secs: i64,
        now: i64,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let lease = ItemBuilder::default()
            .set(ACCESS_PK, s(format!("BGP#{}", glass.person)))
            .set(ACCESS_SK, s(format!("BG#{}", glass.tool)))
            .set(UNTIL, n(now.saturating_add(every_secs)))
            // The table's TTL may delete a lease once its period is over; a missing lease is
            // as good as an expired one.
            .set(TTL_ATTRIBUTE, n(now.saturating_add(every_secs)))
            .set("last", s(glass.id.as_str()))
            .build();
        let lease = put_unless_live("break-glass lease put", access, lease, UNTIL, now)?;
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(glass_pk(&glass.id)))
            .set(ACCESS_SK, s("BG"))
            .set("id", s(glass.id.as_str()))
            .set("breaker", s(glass.breaker.as_str()))
            .set("person", s(glass.person.as_str()))
            .set("tool", s(glass.tool.as_str()))
            .set("reason", s(&glass.reason))
            .set("at", n(glass.at.unix()))
            .set(UNTIL, n(glass.until.unix()))
            .build();
        let record = put_new("break-glass put", access, item)?;
        Ok(vec![
            (
                TransactWriteItem::builder().put(lease).build(),
                Part::TooSoon,
            ),
            (
                TransactWriteItem::builder().put(record).build(),
                Part::Other,
            ),
            (self.put(grant_item(grant))?, Part::Other),
        ])
    }

    /// The items that record `review` of break-glass `id` (first review wins), and end the
    /// grant of `revoke`.
    pub(super) fn review_items(
        &self,
        id: &AccessRequestId,
        review: &Review,
        revoke: Option<&(Principal, ToolName)>,
    ) -> StoreResult<Vec<(TransactWriteItem, Part)>> {
        let access = self.settings.access_table.as_str();
        let mut update = Update::builder()
            .table_name(access)
            .set_key(Some(key_of(glass_pk(id), "BG")))
            .update_expression(
                "SET reviewed_by = :by, reviewed_at = :at, #review = :review\
                 , review_reason = :why",
            )
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(reviewed_by)")
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#review", "review")
            .expression_attribute_values(":by", s(review.by.as_str()))
            .expression_attribute_values(":at", n(review.at.unix()))
            .expression_attribute_values(":review", s(if review.ok { "ok" } else { "revoke" }));
        update = match &review.reason {
            Some(why) => update.expression_attribute_values(":why", s(why)),
            None => update
                .update_expression("SET reviewed_by = :by, reviewed_at = :at, #review = :review"),
        };
        let update = built("review update", update.build())?;
        let mut items = vec![(
            TransactWriteItem::builder().update(update).build(),
            Part::Reviewed,
        )];
        if let Some((principal, tool)) = revoke {
            let delete = built(
                "break-glass grant delete",
                Delete::builder()
                    .table_name(access)
                    .set_key(Some(key_of(principal_pk(principal), &format!("G#{tool}"))))
                    .build(),
            )?;
            items.push((
                TransactWriteItem::builder().delete(delete).build(),
                Part::Other,
            ));
        }
        Ok(items)
    }

    /// Why breaking the glass was refused: the person's period for the tool runs until then.
    pub(super) async fn too_soon(&self, glass: &BreakGlass) -> StoreResult<Verdict> {
        let key = lease_key(&glass.person, &glass.tool);
        let pk = get_s(&key, ACCESS_PK)?.to_owned();
        let sk = get_s(&key, ACCESS_SK)?.to_owned();
        let until = match self.get(pk, sk).await? {
            Some(item) => get_n(&item, UNTIL)?,
            None => glass.at.unix(),
        };
        Ok(Verdict::TooSoon(Timestamp::from_unix(until)))
    }

    /// Why a review of break-glass `id` was refused: there is none, or it was reviewed.
    pub(super) async fn review_refusal(&self, id: &AccessRequestId) -> StoreResult<Verdict> {
        Ok(match self.glass_item(id).await? {
            None => Verdict::NoRequest,
            Some(_) => Verdict::Decided,
        })
    }
}
