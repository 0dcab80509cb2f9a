//! A local fake of the Bot Framework services for the Teams tests: OpenID metadata and JWKS with a
//! test RSA key, the token endpoint, and a Connector that records what it receives; a harness
//! that signs activities' tokens the way the Bot Connector does.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use otpbot::domain::Principal;
use otpbot::teams::auth::BotAuth;
use otpbot::teams::connector::Connector;
use otpbot::teams::TeamsConfig;
use serde_json::{json, Value};

use super::{Options, TestApp};
pub const APP_ID: &str = "5e1d2c3b-0000-4000-8000-00000000b07a";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const ALICE_AAD: &str = "aad0a11c-e000-4000-8000-000000000001";
pub const BOB_AAD: &str = "aad0b0b0-e000-4000-8000-000000000002";
pub const ADMIN_AAD: &str = "aad0ad01-e000-4000-8000-000000000003";

/// What the fake Bot Framework saw.
#[derive(Default)]
pub struct Seen {
    pub token_requests: usize,
    pub key_fetches: usize,
    /// (path, authorization, body)
    pub posts: Vec<(String, String, Value)>,
    pub fail_conversation_create: bool,
    /// Member ids looked up through the Connector.
    pub member_lookups: Vec<String>,
    /// `expires_in` of issued tokens; 0 means the default of 3600 s.
    pub token_lifetime: u64,
    /// Where `/moved/…` sends its callers with a `307`.
    pub redirect_to: String,
}

#[derive(Clone)]
pub struct Fake {
    pub base: String,
    pub keys: Arc<Mutex<Vec<Value>>>,
    pub seen: Arc<Mutex<Seen>>,
    /// The fake Microsoft Graph (`graph.rs`).
    pub graph: Arc<Mutex<super::graph::GraphState>>,
}

pub struct SigningKey {
    pub kid: String,
    pub pair: RsaKeyPair,
}

impl SigningKey {
    pub fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            pair: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key"),
        }
    }

    pub fn jwk(&self, endorsements: &[&str]) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "endorsements": endorsements,
        })
    }

    /// A token shaped as the Bot Connector sends it. Header: "Authentication with the Bot
    /// Connector API", "Connector to Bot: example JWT components" (MicrosoftDocs/bot-docs
    /// `articles/rest-api/bot-framework-rest-connector-authentication.md`): `typ`, `alg` RS256,
    /// and `x5t` and `kid` both the signing key's id.
    pub fn token(&self, claims: Value) -> String {
        let header = json!({ "typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("sign");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

pub async fn openid(State(f): State<Fake>) -> Json<Value> {
    Json(
        json!({ "issuer": "https://api.botframework.com", "jwks_uri": format!("{}/keys", f.base), "id_token_signing_alg_values_supported": ["RS256"] }),
    )
}

pub async fn keys(State(f): State<Fake>) -> Json<Value> {
    f.seen.lock().expect("lock").key_fetches += 1;
    Json(json!({ "keys": f.keys.lock().expect("lock").clone() }))
}

pub async fn token(State(f): State<Fake>, Path(tenant): Path<String>, body: String) -> Json<Value> {
    assert_eq!(tenant, TENANT, "single-tenant token endpoint");
    assert!(
        body.contains("grant_type=client_credentials") && body.contains("client_secret=bot-secret"),
        "{body}"
    );
    if body.contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default") {
        return Json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "access_token": super::graph::GRAPH_TOKEN
        }));
    }
    assert!(
        body.contains("scope=https%3A%2F%2Fapi.botframework.com%2F.default"),
        "{body}"
    );
    let mut seen = f.seen.lock().expect("lock");
    seen.token_requests += 1;
    let lifetime = if seen.token_lifetime == 0 {
        3600
    } else {
        seen.token_lifetime
    };
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "access_token": format!("connector-token-{}", seen.token_requests)
    }))
}

pub fn record(f: &Fake, path: String, headers: &HeaderMap, body: Value) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    f.seen.lock().expect("lock").posts.push((path, auth, body));
}

pub async fn reply(
    State(f): State<Fake>,
    Path((conv, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    record(&f, format!("reply {conv} {id}"), &headers, body);
    Json(json!({ "id": "r1" }))
}

/// `PUT …/activities/{id}`: "Update activity", recorded as `update {conversation} {id}`.
pub async fn update(
    State(f): State<Fake>,
    Path((conv, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    record(&f, format!("update {conv} {id}"), &headers, body);
    Json(json!({ "id": id }))
}

pub async fn send(
    State(f): State<Fake>,
    Path(conv): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    record(&f, format!("send {conv}"), &headers, body);
    Json(json!({ "id": "s1" }))
}

pub async fn create(
    State(f): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let fail = f.seen.lock().expect("lock").fail_conversation_create;
    record(&f, "create".into(), &headers, body);
    if fail {
        return (axum::http::StatusCode::FORBIDDEN, "blocked").into_response();
    }
    Json(json!({ "id": "a:private-conversation" })).into_response()
}

pub async fn member(
    State(f): State<Fake>,
    Path((_conv, member)): Path<(String, String)>,
) -> Json<Value> {
    f.seen
        .lock()
        .expect("lock")
        .member_lookups
        .push(member.clone());
    let aad = match member.as_str() {
        "29:bob" => BOB_AAD,
        "29:alice" => ALICE_AAD,
        _ => "unknown",
    };
    Json(json!({ "id": member, "aadObjectId": aad }))
}

/// A service URL that moved: every call is answered `307 Temporary Redirect` to
/// [`Seen::redirect_to`] (which keeps the method and body: RFC 9110, section 15.4.8).
pub async fn moved(State(f): State<Fake>, Path(path): Path<String>) -> axum::response::Response {
    let mut seen = f.seen.lock().expect("lock");
    seen.posts
        .push((format!("moved {path}"), String::new(), Value::Null));
    let to = seen.redirect_to.clone();
    (
        axum::http::StatusCode::TEMPORARY_REDIRECT,
        [("location", to)],
        "",
    )
        .into_response()
}

pub struct Harness {
    pub app: TestApp,
    pub fake: Fake,
    pub key: SigningKey,
    /// Published, but endorsed only for the `skype` channel.
    pub skype_key: SigningKey,
    pub client: reqwest::Client,
    /// Every activity gets a fresh id, as in Teams: 1700000000001, …002, …
    pub next_id: std::sync::atomic::AtomicU64,
}

impl Fake {
    /// Serves the fake Bot Framework on a loopback port, over TLS when `tls` is given.
    pub async fn start(published: Vec<Value>, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let fake = Fake {
            base: format!("{scheme}://{addr}"),
            keys: Arc::new(Mutex::new(published)),
            seen: Default::default(),
            graph: Default::default(),
        };
        let routes = axum::Router::new()
            .route("/openid", get(openid))
            .route("/keys", get(keys))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/svc/v3/conversations", post(create))
            .route("/svc/v3/conversations/{conv}/activities", post(send))
            .route(
                "/svc/v3/conversations/{conv}/activities/{id}",
                post(reply).put(update),
            )
            .route("/svc/v3/conversations/{conv}/members/{member}", get(member))
            .route("/moved/{*path}", axum::routing::any(moved))
            .route(
                "/v1.0/groups/{group}/transitiveMembers",
                get(super::graph::transitive_members),
            )
            .with_state(fake.clone());
        match tls {
            None => tokio::spawn(async move {
                axum::serve(listener, routes)
                    .await
                    .expect("fake bot framework")
            }),
            Some(acceptor) => tokio::spawn(async move {
                axum::serve(TlsListener { listener, acceptor }, routes)
                    .await
                    .expect("fake bot framework over TLS")
            }),
        };
        fake
    }

    /// The service URL activities carry.
    pub fn service_url(&self) -> String {
        format!("{}/svc/", self.base)
    }

    pub fn posts(&self) -> Vec<(String, String, Value)> {
        std::mem::take(&mut self.seen.lock().expect("lock").posts)
    }
}

/// A TLS listener for `axum::serve`: handshakes that fail (an untrusting client) are dropped.
pub struct TlsListener {
    pub listener: tokio::net::TcpListener,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.listener.accept().await else {
                continue;
            };
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), handshake).await
            {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

impl Harness {
    pub async fn start() -> Self {
        let mut options = Options::default();
        options
            .policy
            .bootstrap_admins
            .insert(teams_user(ADMIN_AAD));
        Self::start_with(options).await
    }

    pub async fn start_with(mut options: Options) -> Self {
        let key = SigningKey::new("key-1");
        let outsider = SigningKey::new("key-skype");
        let fake = Fake::start(vec![key.jwk(&["msteams"]), outsider.jwk(&["skype"])], None).await;
        let base = fake.base.clone();
        let http = otpbot::front::client(std::time::Duration::from_secs(5)).expect("HTTP client");
        options.graph.get_or_insert_with(|| {
            Arc::new(otpbot::teams::graph::Graph::new(
                http.clone(),
                (base.clone(), format!("{base}/v1.0")),
                TENANT.into(),
                APP_ID.into(),
                "bot-secret".to_owned().into(),
            ))
        });
        let mut auth = BotAuth::new(APP_ID.into(), format!("{base}/openid"), http.clone());
        auth.min_refresh_interval = std::time::Duration::ZERO;
        let connector = Connector::new(
            http,
            base.clone(),
            TENANT.into(),
            APP_ID.into(),
            "bot-secret".to_owned().into(),
        )
        .allow_http_service_urls();
        let teams = TeamsConfig {
            auth,
            connector,
            allowed_tenants: [TENANT.to_owned()].into(),
            service_url: format!("{base}/svc/"),
        };
        let app = TestApp::spawn_teams(options, teams).await;
        Self {
            app,
            fake,
            key,
            skype_key: outsider,
            next_id: std::sync::atomic::AtomicU64::new(1_700_000_000_001),
            client: otpbot::front::client(std::time::Duration::from_secs(30)).expect("HTTP client"),
        }
    }

    pub fn service_url(&self) -> String {
        self.fake.service_url()
    }

    pub fn claims(&self) -> Value {
        claims(&self.service_url())
    }

    pub fn activity(&self, aad: &str, text: &str, conversation_type: &str) -> Value {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        activity(&self.service_url(), id, aad, text, conversation_type)
    }

    /// Posts `activity` and waits for what follows its answer (notices, card updates).
    pub async fn post(&self, token: Option<String>, activity: &Value) -> u16 {
        let mut request = self
            .client
            .post(format!("{}/teams/messages", self.app.url))
            .json(activity);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let status = request.send().await.expect("send").status().as_u16();
        self.app.settled().await;
        status
    }

    pub async fn send_as(&self, aad: &str, text: &str, conversation_type: &str) -> u16 {
        self.post(
            Some(self.key.token(self.claims())),
            &self.activity(aad, text, conversation_type),
        )
        .await
    }

    pub fn posts(&self) -> Vec<(String, String, Value)> {
        self.fake.posts()
    }
}

/// The payload of a Connector token. `aud`, `iss`, `nbf`, `exp`: "Authentication with the Bot
/// Connector API", "Connector to Bot: example JWT components" (`aud` the bot's app id, `iss`
/// `https://api.botframework.com`, `exp` about 65 minutes after `nbf`). `serviceurl`, lowercase:
/// the claim every Bot Framework SDK reads, `AuthenticationConstants.ServiceUrlClaim =
/// 'serviceurl'` in botbuilder-js `libraries/botframework-connector/src/auth/authenticationConstants.ts`
/// and botbuilder-dotnet `libraries/Microsoft.Bot.Connector/Authentication/AuthenticationConstants.cs`.
pub fn claims(service_url: &str) -> Value {
    json!({
        "aud": APP_ID,
        "iss": "https://api.botframework.com",
        "nbf": now() - 10,
        "exp": now() - 10 + 3_900,
        "serviceurl": service_url,
    })
}

/// A Teams message activity as the Connector posts it (Bot Framework Activity schema: `type`,
/// `id`, `channelId`, `serviceUrl`, `from`/`recipient` channel accounts with `aadObjectId`,
/// `conversation` with `conversationType` and `tenantId`, `channelData.tenant.id`).
pub fn activity(
    service_url: &str,
    id: u64,
    aad: &str,
    text: &str,
    conversation_type: &str,
) -> Value {
    let conversation = if conversation_type == "personal" {
        "a:personal-1".to_owned()
    } else {
        "19:general@thread.tacv2;messageid=1700000000001".to_owned()
    };
    json!({
        "type": "message",
        "id": id.to_string(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": { "id": format!("29:{aad}"), "name": display_name(aad), "aadObjectId": aad },
        "recipient": { "id": "28:otpbot", "name": "otpbot" },
        "conversation": { "id": conversation, "conversationType": conversation_type, "tenantId": TENANT },
        "text": text,
        "entities": [],
        "channelData": { "tenant": { "id": TENANT } }
    })
}

/// The display name Teams gives each test user in `from.name` (a channel account's `name`:
/// <https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#channelaccount-object>).
pub fn display_name(aad: &str) -> &'static str {
    match aad {
        ALICE_AAD => "Alice Contractor",
        BOB_AAD => "Bob Approver",
        ADMIN_AAD => "Ada Admin",
        _ => "User",
    }
}

pub fn teams_user(aad: &str) -> Principal {
    Principal::parse(&format!("teams:{TENANT}:{aad}")).expect("principal")
}

pub fn card_text(activity: &Value) -> String {
    let mut out = vec![activity["text"].as_str().unwrap_or_default().to_owned()];
    for block in activity["attachments"][0]["content"]["body"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push(block["text"].as_str().unwrap_or_default().to_owned());
    }
    out.join("\n")
}
