//! Catalog, grants and roles in SQLite ([`AccessStore`]), read on the read connections.

use super::access_rows::{
    approver_role, grant_from_row, grant_on, request_on, to_grant, to_tool, tool_from_row, tool_on,
    GRANT_COLUMNS, TOOL_COLUMNS,
};
use super::break_glass_rows::break_glass_on;
use super::handle::LocalStore;
use super::sql::backend;
use crate::domain::{
    AccessRequest, AccessRequestId, BreakGlass, Grant, Principal, Role, Roles, Tool, ToolName,
};
use crate::store::{AccessStore, StoreError, StoreResult};
use async_trait::async_trait;

impl LocalStore {
    async fn grants_where(&self, column: &'static str, value: String) -> StoreResult<Vec<Grant>> {
        let rows = self
            .read(move |c| {
                let order = if column == "tool" {
                    "principal"
                } else {
                    "tool"
                };
                let sql = format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE {column} = ?1 ORDER BY {order}"
                );
                let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt.query_map([value], grant_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        rows.into_iter().map(to_grant).collect()
    }
}

#[async_trait]
impl AccessStore for LocalStore {
    async fn tool(&self, name: &ToolName) -> StoreResult<Option<Tool>> {
        let name = name.as_str().to_owned();
        self.read_point(move |c| tool_on(c, &name)).await
    }

    async fn tools(&self) -> StoreResult<Vec<Tool>> {
        let rows = self
            .read(|c| {
                let mut stmt = c
                    .prepare_cached(&format!("SELECT {TOOL_COLUMNS} FROM tools ORDER BY name"))
                    .map_err(backend)?;
                let rows = stmt.query_map([], tool_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        rows.into_iter().map(to_tool).collect()
    }

    async fn grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Option<Grant>> {
        let (p, t) = (principal.as_str().to_owned(), tool.as_str().to_owned());
        self.read(move |c| grant_on(c, &p, &t)).await
    }

    async fn grants_for(&self, principal: &Principal) -> StoreResult<Vec<Grant>> {
        self.grants_where("principal", principal.as_str().to_owned())
            .await
    }

    async fn holders(&self, tool: &ToolName) -> StoreResult<Vec<Grant>> {
        self.grants_where("tool", tool.as_str().to_owned()).await
    }

    async fn roles(&self, principal: &Principal) -> StoreResult<Roles> {
        let p = principal.as_str().to_owned();
        let names = self
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT role FROM roles WHERE principal = ?1")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([p], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        Ok(names
            .iter()
            .filter_map(|n| Role::parse(n))
            .fold(Roles::default(), Roles::with))
    }

    async fn is_approver(&self, principal: &Principal, tool: &ToolName) -> StoreResult<bool> {
        let p = principal.as_str().to_owned();
        let role = approver_role(tool);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT 1 FROM roles WHERE principal = ?1 AND role = ?2")
                .map_err(backend)?;
            stmt.exists([p, role]).map_err(backend)
        })
        .await
    }

    async fn approvers(&self, tool: &ToolName) -> StoreResult<Vec<Principal>> {
        let role = approver_role(tool);
        let names = self
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT DISTINCT principal FROM roles WHERE role = ?1 OR role = ?2 \
                         ORDER BY principal",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([Role::Admin.as_str(), &role], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await?;
        names
            .iter()
            .map(|n| Principal::parse(n).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn access_request(&self, id: &AccessRequestId) -> StoreResult<Option<AccessRequest>> {
        let id = id.as_str().to_owned();
        self.read(move |c| request_on(c, &id)).await
    }

    async fn break_glass(&self, id: &AccessRequestId) -> StoreResult<Option<BreakGlass>> {
        let id = id.as_str().to_owned();
        self.read(move |c| break_glass_on(c, &id)).await
    }
}
