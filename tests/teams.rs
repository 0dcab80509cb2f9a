//! The Teams front end against a local fake of the Bot Framework services started by the test:
//! OpenID metadata and JWKS with a test RSA key, the token endpoint, and a Connector that records
//! what it receives.

mod common;

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
use common::{Options, TestApp};
use otpbot::domain::{Action, Outcome, Principal};
use otpbot::teams::auth::BotAuth;
use otpbot::teams::connector::Connector;
use otpbot::teams::TeamsConfig;
use serde_json::{json, Value};

const APP_ID: &str = "5e1d2c3b-0000-4000-8000-00000000b07a";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ALICE_AAD: &str = "aad0a11c-e000-4000-8000-000000000001";
const BOB_AAD: &str = "aad0b0b0-e000-4000-8000-000000000002";
const ADMIN_AAD: &str = "aad0ad01-e000-4000-8000-000000000003";

/// What the fake Bot Framework saw.
#[derive(Default)]
struct Seen {
    token_requests: usize,
    key_fetches: usize,
    /// (path, authorization, body)
    posts: Vec<(String, String, Value)>,
    fail_conversation_create: bool,
    /// `expires_in` of issued tokens; 0 means the default of 3600 s.
    token_lifetime: u64,
}

#[derive(Clone)]
struct Fake {
    base: String,
    keys: Arc<Mutex<Vec<Value>>>,
    seen: Arc<Mutex<Seen>>,
}

struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            pair: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key"),
        }
    }

    fn jwk(&self, endorsements: &[&str]) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "endorsements": endorsements,
        })
    }

    fn token(&self, claims: Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
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

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

async fn openid(State(f): State<Fake>) -> Json<Value> {
    Json(
        json!({ "issuer": "https://api.botframework.com", "jwks_uri": format!("{}/keys", f.base), "id_token_signing_alg_values_supported": ["RS256"] }),
    )
}

async fn keys(State(f): State<Fake>) -> Json<Value> {
    f.seen.lock().expect("lock").key_fetches += 1;
    Json(json!({ "keys": f.keys.lock().expect("lock").clone() }))
}

async fn token(State(f): State<Fake>, Path(tenant): Path<String>, body: String) -> Json<Value> {
    assert_eq!(tenant, TENANT, "single-tenant token endpoint");
    assert!(
        body.contains("grant_type=client_credentials") && body.contains("client_secret=bot-secret"),
        "{body}"
    );
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

fn record(f: &Fake, path: String, headers: &HeaderMap, body: Value) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    f.seen.lock().expect("lock").posts.push((path, auth, body));
}

async fn reply(
    State(f): State<Fake>,
    Path((conv, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    record(&f, format!("reply {conv} {id}"), &headers, body);
    Json(json!({ "id": "r1" }))
}

async fn send(
    State(f): State<Fake>,
    Path(conv): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    record(&f, format!("send {conv}"), &headers, body);
    Json(json!({ "id": "s1" }))
}

async fn create(
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

async fn member(Path((_conv, member)): Path<(String, String)>) -> Json<Value> {
    let aad = match member.as_str() {
        "29:bob" => BOB_AAD,
        "29:alice" => ALICE_AAD,
        _ => "unknown",
    };
    Json(json!({ "id": member, "aadObjectId": aad }))
}

struct Harness {
    app: TestApp,
    fake: Fake,
    key: SigningKey,
    /// Published, but endorsed only for the `skype` channel.
    skype_key: SigningKey,
    client: reqwest::Client,
    /// Every activity gets a fresh id, as in Teams: 1700000000001, …002, …
    next_id: std::sync::atomic::AtomicU64,
}

impl Harness {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let key = SigningKey::new("key-1");
        let outsider = SigningKey::new("key-skype");
        let fake = Fake {
            base: base.clone(),
            keys: Arc::new(Mutex::new(vec![
                key.jwk(&["msteams"]),
                outsider.jwk(&["skype"]),
            ])),
            seen: Default::default(),
        };
        let routes = axum::Router::new()
            .route("/openid", get(openid))
            .route("/keys", get(keys))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/svc/v3/conversations", post(create))
            .route("/svc/v3/conversations/{conv}/activities", post(send))
            .route("/svc/v3/conversations/{conv}/activities/{id}", post(reply))
            .route("/svc/v3/conversations/{conv}/members/{member}", get(member))
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, routes)
                .await
                .expect("fake bot framework")
        });

        let http = otpbot::http::client(std::time::Duration::from_secs(5));
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
        };
        let mut options = Options::default();
        options
            .policy
            .bootstrap_admins
            .insert(teams_user(ADMIN_AAD));
        let app = TestApp::spawn_teams(options, teams).await;
        Self {
            app,
            fake,
            key,
            skype_key: outsider,
            next_id: std::sync::atomic::AtomicU64::new(1_700_000_000_001),
            client: otpbot::http::client(std::time::Duration::from_secs(30)),
        }
    }

    fn service_url(&self) -> String {
        format!("{}/svc/", self.fake.base)
    }

    fn claims(&self) -> Value {
        json!({ "iss": "https://api.botframework.com", "aud": APP_ID, "exp": now() + 600, "nbf": now() - 10, "serviceUrl": self.service_url() })
    }

    fn activity(&self, aad: &str, text: &str, conversation_type: &str) -> Value {
        json!({
            "type": "message",
            "id": self.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst).to_string(),
            "channelId": "msteams",
            "serviceUrl": self.service_url(),
            "from": { "id": format!("29:{aad}"), "name": "User", "aadObjectId": aad },
            "recipient": { "id": "28:otpbot", "name": "otpbot" },
            "conversation": { "id": if conversation_type == "personal" { "a:personal-1".to_owned() } else { "19:general@thread.tacv2;messageid=1700000000001".to_owned() }, "conversationType": conversation_type, "tenantId": TENANT },
            "text": text,
            "entities": [],
            "channelData": { "tenant": { "id": TENANT } }
        })
    }

    async fn post(&self, token: Option<String>, activity: &Value) -> u16 {
        let mut request = self
            .client
            .post(format!("{}/teams/messages", self.app.url))
            .json(activity);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("send").status().as_u16()
    }

    async fn send_as(&self, aad: &str, text: &str, conversation_type: &str) -> u16 {
        self.post(
            Some(self.key.token(self.claims())),
            &self.activity(aad, text, conversation_type),
        )
        .await
    }

    fn posts(&self) -> Vec<(String, String, Value)> {
        std::mem::take(&mut self.fake.seen.lock().expect("lock").posts)
    }
}

fn teams_user(aad: &str) -> Principal {
    Principal::parse(&format!("teams:{TENANT}:{aad}")).expect("principal")
}

fn card_text(activity: &Value) -> String {
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

#[tokio::test]
async fn a_personal_message_gets_the_code_in_that_chat_and_an_audit_record() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    assert_eq!(h.send_as(ALICE_AAD, "otp github", "personal").await, 200);
    let posts = h.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (path, auth, body) = &posts[0];
    assert_eq!(
        path, "reply a:personal-1 1700000000001",
        "replied in the personal chat to the message"
    );
    assert_eq!(auth, "Bearer connector-token-1");
    let expected = common::rfc6238::totp_sha1(common::SEED, h.app.now().unix() as u64, 30, 6);
    let text = card_text(body);
    assert!(text.contains(&expected), "{text}");
    assert_eq!(
        body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.actor.clone()),
        (Action::Code, Outcome::Issued, teams_user(ALICE_AAD))
    );
    assert!(
        event
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("via personal chat"),
        "{:?}",
        event.detail
    );
}

fn grant(aad: &str) -> otpbot::domain::Grant {
    let at = otpbot::domain::Timestamp::from_unix(common::START);
    otpbot::domain::Grant {
        principal: teams_user(aad),
        tool: otpbot::domain::ToolName::parse("github").expect("tool"),
        granted_by: otpbot::domain::Principal::parse(common::SETUP_OPERATOR).expect("operator"),
        granted_at: at,
        expires_at: at.plus_secs(3_600),
        reason: None,
    }
}

#[tokio::test]
async fn a_channel_message_never_carries_the_code_to_the_channel() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let mut activity = h.activity(ALICE_AAD, "<at>otpbot</at> github", "channel");
    activity["entities"] = json!([{ "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "<at>otpbot</at>" }]);
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    let posts = h.posts();
    let paths: Vec<&str> = posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "create",
            "send a:private-conversation",
            "reply 19:general@thread.tacv2;messageid=1700000000001 1700000000001"
        ]
    );
    assert_eq!(posts[0].2["members"][0]["id"], format!("29:{ALICE_AAD}"));
    assert_eq!(posts[0].2["tenantId"], TENANT);
    let private = card_text(&posts[1].2);
    let code = common::rfc6238::totp_sha1(common::SEED, h.app.now().unix() as u64, 30, 6);
    assert!(
        private.contains(&code),
        "the code went to the private chat: {private}"
    );
    let thread = posts[2].2.to_string();
    assert!(
        !thread.contains(&code) && thread.contains("answered you in a private chat"),
        "{thread}"
    );
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::Issued);
    assert!(event
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("private 1:1 chat, asked in a group chat or channel"));

    h.fake.seen.lock().expect("lock").fail_conversation_create = true;
    assert_eq!(h.send_as(ALICE_AAD, "github", "groupChat").await, 200);
    let posts = h.posts();
    let paths: Vec<&str> = posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "create",
            "reply 19:general@thread.tacv2;messageid=1700000000001 1700000000002"
        ]
    );
    assert!(
        posts[1].2.to_string().contains("message me directly")
            && !posts[1].2.to_string().contains(&code)
    );
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Request, Outcome::Invalid)
    );
    assert!(event
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("told to message the bot directly"));
}

#[tokio::test]
async fn mentions_of_other_users_resolve_to_their_aad_object_ids() {
    let h = Harness::start().await;
    let mut activity = h.activity(
        ADMIN_AAD,
        "<at>otpbot</at> grant <at>Bob</at> github for 1h",
        "personal",
    );
    activity["entities"] = json!([
        { "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "<at>otpbot</at>" },
        { "type": "mention", "mentioned": { "id": "29:bob", "name": "Bob" }, "text": "<at>Bob</at>" }
    ]);
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.subject),
        (Action::Grant, Outcome::Ok, Some(teams_user(BOB_AAD)))
    );
    let text = card_text(&h.posts()[0].2);
    assert!(text.contains(&format!("Granted @{BOB_AAD}")), "{text}");
}

#[tokio::test]
async fn forged_and_misaddressed_tokens_are_refused_and_nothing_is_processed() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let stranger = SigningKey::new("key-1");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = h.claims();
        f(&mut c);
        c
    };
    let activity = h.activity(ALICE_AAD, "github", "personal");
    let cases: Vec<(&str, Option<String>, Value, u16)> = vec![
        ("no token", None, activity.clone(), 401),
        (
            "forged signature",
            Some(stranger.token(h.claims())),
            activity.clone(),
            401,
        ),
        (
            "wrong audience",
            Some(h.key.token(with(&|c| c["aud"] = json!("someone-else")))),
            activity.clone(),
            401,
        ),
        (
            "wrong issuer",
            Some(
                h.key
                    .token(with(&|c| c["iss"] = json!("https://evil.example"))),
            ),
            activity.clone(),
            401,
        ),
        (
            "expired",
            Some(h.key.token(with(&|c| c["exp"] = json!(now() - 301)))),
            activity.clone(),
            401,
        ),
        (
            "not yet valid",
            Some(h.key.token(with(&|c| c["nbf"] = json!(now() + 400)))),
            activity.clone(),
            401,
        ),
        (
            "unknown key",
            Some(SigningKey::new("key-404").token(h.claims())),
            activity.clone(),
            401,
        ),
        (
            "key endorsed only for skype",
            Some(h.skype_key.token(h.claims())),
            activity.clone(),
            403,
        ),
        (
            "a channel other than msteams, even with its endorsement",
            Some(h.skype_key.token(h.claims())),
            {
                let mut a = activity.clone();
                a["channelId"] = json!("skype");
                a
            },
            403,
        ),
        (
            "service URL mismatch",
            Some(h.key.token(with(&|c| {
                c["serviceUrl"] = json!("https://smba.example/evil/")
            }))),
            activity.clone(),
            403,
        ),
        (
            "garbage token",
            Some("not.a.jwt".into()),
            activity.clone(),
            401,
        ),
    ];
    for (name, token, activity, status) in cases {
        assert_eq!(h.post(token, &activity).await, status, "{name}");
    }
    assert!(h.posts().is_empty(), "nothing was sent anywhere");
    assert!(
        h.app.audit().await.is_empty(),
        "nothing unverified reached the audit log"
    );

    let mut foreign = h.activity(ALICE_AAD, "github", "personal");
    foreign["channelData"]["tenant"]["id"] = json!("00000000-0000-0000-0000-00000000beef");
    foreign["conversation"]["tenantId"] = json!("00000000-0000-0000-0000-00000000beef");
    assert_eq!(
        h.post(Some(h.key.token(h.claims())), &foreign).await,
        403,
        "unknown tenant"
    );
    assert!(h.posts().is_empty());
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::BadWorkspace);
}

#[tokio::test]
async fn the_connector_token_is_reused_until_it_expires_and_keys_refresh_on_a_new_kid() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    for text in ["github", "list", "help"] {
        assert_eq!(h.send_as(ALICE_AAD, text, "personal").await, 200);
    }
    let posts = h.posts();
    assert_eq!(posts.len(), 3);
    assert!(
        posts.iter().all(|p| p.1 == "Bearer connector-token-1"),
        "one token for all replies"
    );
    assert_eq!(h.fake.seen.lock().expect("lock").token_requests, 1);
    assert_eq!(
        h.fake.seen.lock().expect("lock").key_fetches,
        1,
        "keys are cached"
    );

    let rotated = SigningKey::new("key-2");
    h.fake
        .keys
        .lock()
        .expect("lock")
        .push(rotated.jwk(&["msteams"]));
    assert_eq!(
        h.post(
            Some(rotated.token(h.claims())),
            &h.activity(ALICE_AAD, "list", "personal")
        )
        .await,
        200
    );
    assert_eq!(
        h.fake.seen.lock().expect("lock").key_fetches,
        2,
        "an unknown kid refreshes the keys once"
    );
}

#[tokio::test]
async fn non_message_activities_are_acknowledged_and_ignored() {
    let h = Harness::start().await;
    let mut activity = h.activity(ALICE_AAD, "", "personal");
    activity["type"] = json!("conversationUpdate");
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    assert!(h.posts().is_empty());
    assert!(h.app.audit().await.is_empty());
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_use() {
    let h = Harness::start().await;
    // Tokens that live less than the 5-minute renewal margin are never reused.
    h.fake.seen.lock().expect("lock").token_lifetime = 200;
    for _ in 0..2 {
        assert_eq!(h.send_as(ALICE_AAD, "list", "personal").await, 200);
    }
    let auths: Vec<String> = h.posts().into_iter().map(|p| p.1).collect();
    assert_eq!(
        auths,
        ["Bearer connector-token-1", "Bearer connector-token-2"]
    );
}

#[tokio::test]
async fn a_redelivered_activity_is_acted_on_once() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let token = h.key.token(h.claims());
    let activity = h.activity(ALICE_AAD, "github", "personal");
    assert_eq!(h.post(Some(token.clone()), &activity).await, 200);
    assert_eq!(
        h.post(Some(token), &activity).await,
        200,
        "acknowledged, so the sender stops retrying"
    );
    assert_eq!(h.posts().len(), 1, "one reply");
    let issued = h
        .app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .count();
    assert_eq!(issued, 1, "one code issued");
}
