//! Catalog, grants and roles in the access table ([`AccessStore`]). Lookups by principal are
//! `Query` on the table key; lookups by tool are `Query` on the grants-by-tool index.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::access_items::{grant_from, pinned_tool_from, tool_from};
use super::handle::AwsStore;
use super::item::{get_s, s, Item};
use super::key_layout::{approver_sk, principal_pk, TOOLS_PK};
use super::schema::{ACCESS_PK, ACCESS_SK, GRANTS_BY_TOOL, GSI1_PK, GSI1_SK};
use super::sdk_error::sdk;
use crate::domain::{
    AccessRequest, AccessRequestId, BreakGlass, Grant, Principal, Role, Roles, Tool, ToolName,
};
use crate::store::{AccessStore, StoreError, StoreResult};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

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

    /// The access table's item `pk`, `sk`, read consistently.
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
            Some(item) => Some(pinned_tool_from(&item)?),
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
        let sk = approver_sk(tool);
        Ok(self.get(principal_pk(principal), sk).await?.is_some())
    }

    async fn approvers(&self, tool: &ToolName) -> StoreResult<Vec<Principal>> {
        let mut found = Vec::new();
        for role_key in [format!("R#{}", Role::Admin), approver_sk(tool)] {
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

    async fn break_glass(&self, id: &AccessRequestId) -> StoreResult<Option<BreakGlass>> {
        self.glass_item(id).await
    }
}
