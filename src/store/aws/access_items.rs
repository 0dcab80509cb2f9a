//! The access table's items: the catalog, grants and roles, as DynamoDB items and back.

use super::item::{get_n, get_s, n, opt_s, s, Item, ItemBuilder};
use super::key_layout::{approver_sk, principal_pk, TOOLS_PK};
use super::schema::{ACCESS_PK, ACCESS_SK, GSI1_PK, GSI1_SK, TTL_ATTRIBUTE};
use crate::domain::{
    Grant, GrantDuration, Person, Principal, Role, Timestamp, Tool, ToolName, ToolRules,
};
use crate::store::{StoreError, StoreResult};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A catalog entry read back from its item, with the seed version it pins (if any).
pub(super) fn pinned_tool_from(item: &Item) -> StoreResult<(Tool, Option<i64>)> {
    Ok((tool_from(item)?, get_n(item, SEED_VERSION).ok()))
}

/// A catalog entry read back from its item.
pub(super) fn tool_from(item: &Item) -> StoreResult<Tool> {
    Ok(Tool {
        name: ToolName::parse(get_s(item, "name")?).map_err(corrupt)?,
        display_name: get_s(item, "display_name")?.to_owned(),
        default_grant: GrantDuration::from_secs(get_n(item, "default_grant")?)
            .ok_or_else(|| corrupt("default_grant"))?,
        max_grant: GrantDuration::from_secs(get_n(item, "max_grant")?)
            .ok_or_else(|| corrupt("max_grant"))?,
        notify_channel: opt_s(item, "notify_channel"),
        approvals_channel: opt_s(item, "approvals_channel"),
        rules: rules_from(item)?,
    })
}

/// A tool's rules; an item written before them holds none (one approval, no break-glass).
fn rules_from(item: &Item) -> StoreResult<ToolRules> {
    let approvals_required = match item.get(APPROVALS_REQUIRED) {
        Some(_) => ToolRules::approvals(get_n(item, APPROVALS_REQUIRED)?)
            .ok_or_else(|| corrupt("approvals_required"))?,
        None => 1,
    };
    let break_glass = match item.get(BREAK_GLASS) {
        Some(_) => Some(
            GrantDuration::from_secs(get_n(item, BREAK_GLASS)?)
                .ok_or_else(|| corrupt("break_glass"))?,
        ),
        None => None,
    };
    Ok(ToolRules {
        approvals_required,
        break_glass,
    })
}

/// The person stored under `attribute`, or `principal` for an item written before persons
/// were recorded: the person as far as was known then (the read is the migration; nothing is
/// scanned or rewritten).
pub(super) fn person_from(
    item: &Item,
    attribute: &str,
    principal: &Principal,
) -> StoreResult<Person> {
    match opt_s(item, attribute) {
        Some(text) => Person::parse(&text).map_err(corrupt),
        None => Ok(Person::from(principal)),
    }
}

/// A grant read back from its item.
pub(super) fn grant_from(item: &Item) -> StoreResult<Grant> {
    let principal = Principal::parse(get_s(item, "principal")?).map_err(corrupt)?;
    Ok(Grant {
        person: person_from(item, "person", &principal)?,
        principal,
        tool: ToolName::parse(get_s(item, "tool")?).map_err(corrupt)?,
        granted_by: Principal::parse(get_s(item, "granted_by")?).map_err(corrupt)?,
        granted_at: Timestamp::from_unix(get_n(item, "granted_at")?),
        expires_at: Timestamp::from_unix(get_n(item, TTL_ATTRIBUTE)?),
        reason: opt_s(item, "reason"),
    })
}

/// The item of a grant.
pub(super) fn grant_item(grant: &Grant) -> Item {
    ItemBuilder::default()
        .set(ACCESS_PK, s(principal_pk(&grant.principal)))
        .set(ACCESS_SK, s(format!("G#{}", grant.tool)))
        .set(GSI1_PK, s(format!("T#{}", grant.tool)))
        .set(GSI1_SK, s(principal_pk(&grant.principal)))
        .set("principal", s(grant.principal.as_str()))
        .set("person", s(grant.person.as_str()))
        .set("tool", s(grant.tool.as_str()))
        .set("granted_by", s(grant.granted_by.as_str()))
        .set("granted_at", n(grant.granted_at.unix()))
        .set(TTL_ATTRIBUTE, n(grant.expires_at.unix()))
        .opt("reason", grant.reason.as_deref())
        .build()
}

/// The item of a role. It is also indexed by role (`gsi1pk = R#{role}`), so the approvers of
/// a tool can be listed without a scan.
pub(super) fn role_item(principal: &Principal, role: Role) -> Item {
    ItemBuilder::default()
        .set(ACCESS_PK, s(principal_pk(principal)))
        .set(ACCESS_SK, s(format!("R#{role}")))
        .set(GSI1_PK, s(format!("R#{role}")))
        .set(GSI1_SK, s(principal_pk(principal)))
        .set("role", s(role.as_str()))
        .build()
}

/// The item of the approver role for `tool`, indexed like [`role_item`].
pub(super) fn approver_item(principal: &Principal, tool: &ToolName) -> Item {
    let sk = approver_sk(tool);
    ItemBuilder::default()
        .set(ACCESS_PK, s(principal_pk(principal)))
        .set(ACCESS_SK, s(sk.clone()))
        .set(GSI1_PK, s(sk))
        .set(GSI1_SK, s(principal_pk(principal)))
        .set("role", s("approver"))
        .set("tool", s(tool.as_str()))
        .build()
}

/// The item of a catalog entry; `seed_version` pins the SSM parameter version of its seed.
pub(super) fn tool_item(tool: &Tool, seed_version: Option<i64>) -> Item {
    let mut item = ItemBuilder::default()
        .set(ACCESS_PK, s(TOOLS_PK))
        .set(ACCESS_SK, s(format!("T#{}", tool.name)))
        .set("name", s(tool.name.as_str()))
        .set("display_name", s(&tool.display_name))
        .set("default_grant", n(tool.default_grant.secs()))
        .set("max_grant", n(tool.max_grant.secs()))
        .opt("notify_channel", tool.notify_channel.as_deref())
        .opt("approvals_channel", tool.approvals_channel.as_deref())
        .set(
            APPROVALS_REQUIRED,
            n(i64::from(tool.rules.approvals_required)),
        );
    if let Some(d) = tool.rules.break_glass {
        item = item.set(BREAK_GLASS, n(d.secs()));
    }
    if let Some(version) = seed_version {
        item = item.set(SEED_VERSION, n(version));
    }
    item.build()
}

/// Catalog attribute: how many approvals a request for the tool needs.
const APPROVALS_REQUIRED: &str = "approvals_required";
/// Catalog attribute: the longest break-glass grant, when the tool allows one.
const BREAK_GLASS: &str = "break_glass";

/// Catalog attribute: the SSM parameter version holding the tool's current seed.
pub(super) const SEED_VERSION: &str = "seed_version";
