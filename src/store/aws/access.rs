//! Catalog, grants and roles in the access table. Lookups by principal are `Query` on the table
//! key; lookups by tool are `Query` on the grants-by-tool index.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::item::{get_n, get_s, n, opt_s, s, Item, ItemBuilder};
use super::schema::{ACCESS_PK, ACCESS_SK, GRANTS_BY_TOOL, GSI1_PK, GSI1_SK, TTL_ATTRIBUTE};
use super::{sdk, AwsStore};
use crate::domain::{
    AccessRequest, AccessRequestId, Grant, GrantDuration, Person, Principal, Role, Roles,
    Timestamp, Tool, ToolName,
};
use crate::store::{AccessStore, StoreError, StoreResult};

/// Partition of the tool catalog.
pub(super) const TOOLS_PK: &str = "TOOLS";

/// Partition of a principal's grants and roles.
pub(super) fn principal_pk(p: &Principal) -> String {
    format!("P#{p}")
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
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
    let sk = super::requests::approver_sk(tool);
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
        .opt("approvals_channel", tool.approvals_channel.as_deref());
    if let Some(version) = seed_version {
        item = item.set(SEED_VERSION, n(version));
    }
    item.build()
}

/// Catalog attribute: the SSM parameter version holding the tool's current seed.
pub(super) const SEED_VERSION: &str = "seed_version";

impl AwsStore {
    /// Runs a query to the end, following `LastEvaluatedKey`.
    pub(super) async fn query_all(
        &self,
        make: impl Fn() -> QueryFluentBuilder,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = make()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk("query", e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Items of one partition whose sort key starts with `prefix`, in sort-key order.
    async fn partition(&self, pk: String, prefix: &str) -> StoreResult<Vec<Item>> {
        self.query_all(|| {
            self.ddb
                .query()
                .table_name(&self.settings.access_table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#sk", ACCESS_SK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
        })
        .await
    }

    pub(super) async fn get(&self, pk: String, sk: String) -> StoreResult<Option<Item>> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.settings.access_table)
            .key(ACCESS_PK, s(pk))
            .key(ACCESS_SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("get item", e))?;
        Ok(out.item)
    }

    /// The catalog entry of `name` and its pinned seed version, from the short-lived cache
    /// or the table.
    pub(super) async fn catalog_entry(
        &self,
        name: &ToolName,
    ) -> StoreResult<Option<(Tool, Option<i64>)>> {
        if let Some(entry) = self.cached_tool(name) {
            return Ok(entry);
        }
        let entry = match self.get(TOOLS_PK.into(), format!("T#{name}")).await? {
            Some(item) => Some((tool_from(&item)?, get_n(&item, SEED_VERSION).ok())),
            None => None,
        };
        self.cache_tool(name, entry.clone());
        Ok(entry)
    }

    /// Deletes the grants a removed tool left behind (beyond what its transaction held).
    pub(super) async fn clean_removed_tool(&self, name: &ToolName) -> StoreResult<()> {
        for grant in self.holders(name).await? {
            self.ddb
                .delete_item()
                .table_name(&self.settings.access_table)
                .key(ACCESS_PK, s(principal_pk(&grant.principal)))
                .key(ACCESS_SK, s(format!("G#{name}")))
                .send()
                .await
                .map_err(|e| sdk("delete grant", e))?;
        }
        self.remove_seed(name).await
    }
}

#[async_trait]
impl AccessStore for AwsStore {
    async fn tool(&self, name: &ToolName) -> StoreResult<Option<Tool>> {
        Ok(self.catalog_entry(name).await?.map(|(tool, _)| tool))
    }

    async fn tools(&self) -> StoreResult<Vec<Tool>> {
        self.partition(TOOLS_PK.into(), "T#")
            .await?
            .iter()
            .map(tool_from)
            .collect()
    }

    async fn grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Option<Grant>> {
        self.get(principal_pk(principal), format!("G#{tool}"))
            .await?
            .as_ref()
            .map(grant_from)
            .transpose()
    }

    async fn grants_for(&self, principal: &Principal) -> StoreResult<Vec<Grant>> {
        self.partition(principal_pk(principal), "G#")
            .await?
            .iter()
            .map(grant_from)
            .collect()
    }

    async fn holders(&self, tool: &ToolName) -> StoreResult<Vec<Grant>> {
        let items = self
            .query_all(|| {
                self.ddb
                    .query()
                    .table_name(&self.settings.access_table)
                    .index_name(GRANTS_BY_TOOL)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", GSI1_PK)
                    .expression_attribute_values(":pk", s(format!("T#{tool}")))
            })
            .await?;
        items.iter().map(grant_from).collect()
    }

    async fn roles(&self, principal: &Principal) -> StoreResult<Roles> {
        let items = self.partition(principal_pk(principal), "R#").await?;
        let names = items
            .iter()
            .filter_map(|i| get_s(i, ACCESS_SK).ok())
            .filter_map(|sk| sk.strip_prefix("R#"));
        Ok(names
            .filter_map(Role::parse)
            .fold(Roles::default(), Roles::with))
    }

    async fn is_approver(&self, principal: &Principal, tool: &ToolName) -> StoreResult<bool> {
        let sk = super::requests::approver_sk(tool);
        Ok(self.get(principal_pk(principal), sk).await?.is_some())
    }

    async fn approvers(&self, tool: &ToolName) -> StoreResult<Vec<Principal>> {
        let mut found = Vec::new();
        for role_key in [
            format!("R#{}", Role::Admin),
            super::requests::approver_sk(tool),
        ] {
            let items = self
                .query_all(|| {
                    self.ddb
                        .query()
                        .table_name(&self.settings.access_table)
                        .index_name(GRANTS_BY_TOOL)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", GSI1_PK)
                        .expression_attribute_values(":pk", s(role_key.clone()))
                })
                .await?;
            for item in &items {
                let key = get_s(item, GSI1_SK)?;
                let principal = key
                    .strip_prefix("P#")
                    .ok_or_else(|| corrupt("role index key"))
                    .and_then(|p| Principal::parse(p).map_err(corrupt))?;
                found.push(principal);
            }
        }
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        found.dedup();
        Ok(found)
    }

    async fn access_request(&self, id: &AccessRequestId) -> StoreResult<Option<AccessRequest>> {
        self.request_item(id).await
    }
}

/// Whether an SDK error is a failed `ConditionExpression`.
pub(super) fn is_conditional_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}
