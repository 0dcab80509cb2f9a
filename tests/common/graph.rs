//! A local fake of Microsoft Graph's group membership, served beside the fake Bot Framework
//! (`teams.rs`), whose token endpoint also hands out Graph tokens.
//!
//! - Tokens: the client-credentials flow at `/{tenant}/oauth2/v2.0/token` with scope
//!   `https://graph.microsoft.com/.default` answers `{"token_type": "Bearer", "expires_in",
//!   "access_token"}` (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).
//! - Members: `GET /v1.0/groups/{id}/transitiveMembers` answers `{"@odata.context", "value":
//!   [{"@odata.type": "#microsoft.graph.user", "id"}, …]}`, users and nested groups alike, 404
//!   for an unknown group (<https://learn.microsoft.com/en-us/graph/api/group-list-transitivemembers>),
//!   pages linked by an absolute `@odata.nextLink` holding a `$skiptoken`
//!   (<https://learn.microsoft.com/en-us/graph/paging>), and 429 with `Retry-After` when
//!   throttling (<https://learn.microsoft.com/en-us/graph/throttling>).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::teams::Fake;

/// The Graph token the fake hands out.
pub const GRAPH_TOKEN: &str = "graph-token";

/// What the fake Graph holds and how it misbehaves.
#[derive(Default)]
pub struct GraphState {
    /// Each group's members: `(odata type, id)`.
    pub groups: HashMap<String, Vec<(String, String)>>,
    /// Members per page (0: all on one page).
    pub page_size: usize,
    /// An HTTP status to answer member reads with instead (e.g. 429, 403).
    pub fail: Option<u16>,
    /// Member reads so far.
    pub reads: usize,
}

impl Fake {
    /// Sets the members of Entra group `group`: users by object id, and nested groups.
    pub fn set_entra_group(&self, group: &str, users: &[&str], nested_groups: &[&str]) {
        let members = users
            .iter()
            .map(|u| ("#microsoft.graph.user".to_owned(), (*u).to_owned()))
            .chain(
                nested_groups
                    .iter()
                    .map(|g| ("#microsoft.graph.group".to_owned(), (*g).to_owned())),
            )
            .collect();
        let mut graph = self.graph.lock().expect("graph");
        graph.groups.insert(group.to_owned(), members);
    }
}

/// `GET /v1.0/groups/{id}/transitiveMembers`.
pub async fn transitive_members(
    State(f): State<Fake>,
    Path(group): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {GRAPH_TOKEN}") {
        let error = json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let mut graph = f.graph.lock().expect("graph");
    graph.reads += 1;
    if let Some(status) = graph.fail {
        let status = StatusCode::from_u16(status).expect("status");
        let error = json!({"error": {"code": "TooManyRequests", "message": "throttled"}});
        return (status, [("retry-after", "10")], Json(error)).into_response();
    }
    let Some(members) = graph.groups.get(&group) else {
        let error = json!({"error": {"code": "Request_ResourceNotFound", "message": "not found"}});
        return (StatusCode::NOT_FOUND, Json(error)).into_response();
    };
    let skip: usize = query
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size = if graph.page_size == 0 {
        members.len().max(1)
    } else {
        graph.page_size
    };
    let page: Vec<Value> = members
        .iter()
        .skip(skip)
        .take(size)
        .map(|(kind, id)| json!({"@odata.type": kind, "id": id}))
        .collect();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
        "value": page,
    });
    if skip + size < members.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/groups/{group}/transitiveMembers?$select=id&$top=999&$skiptoken={}",
            f.base,
            skip + size
        ));
    }
    Json(body).into_response()
}
