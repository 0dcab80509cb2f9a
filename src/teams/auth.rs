//! Bot Framework request authentication: the `Authorization: Bearer` JWT (RS256) is checked
//! against the keys published in the Bot Framework OpenID metadata: issuer, audience (our app
//! id), `exp`/`nbf` with 5 minutes of skew, the signing key's endorsement of the activity's
//! channel, and the token's `serviceurl` claim against the activity's.
//!
//! The Connector's tokens carry the service URL in a claim spelled `serviceurl`, all lowercase:
//! `AuthenticationConstants.ServiceUrlClaim = 'serviceurl'` in botbuilder-js
//! (`libraries/botframework-connector/src/auth/authenticationConstants.ts`) and
//! `public const string ServiceUrlClaim = "serviceurl"` in botbuilder-dotnet
//! (`libraries/Microsoft.Bot.Connector/Authentication/AuthenticationConstants.cs`). Both SDKs look
//! the claim up by exact name (botbuilder-js `ClaimsIdentity.getClaimValue` compares with `===`,
//! botbuilder-dotnet `ChannelValidation` with `claim.Type == ServiceUrlClaim`) and refuse a token
//! without it, so a claim spelled any other way is absent here too. The value is compared with
//! the activity's `serviceUrl` ignoring case, as botbuilder-dotnet does
//! (`string.Equals(serviceUrlClaim, serviceUrl, StringComparison.OrdinalIgnoreCase)`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

/// The issuer of Bot Framework tokens.
pub const ISSUER: &str = "https://api.botframework.com";
/// Where Bot Framework publishes its OpenID metadata.
pub const DEFAULT_OPENID_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";

/// Why a request was not authenticated. Safe to state to the sender.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No bearer token.
    #[error("missing bearer token")]
    MissingToken,
    /// The token is not a well-formed JWT, or names no key.
    #[error("malformed token")]
    Malformed,
    /// No published key has the token's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature, issuer, audience or lifetime is wrong.
    #[error("invalid token")]
    Invalid,
    /// The signing key does not endorse the activity's channel.
    #[error("signing key not endorsed for this channel")]
    NotEndorsed,
    /// The token has no `serviceurl` claim, or it differs from the activity's `serviceUrl`.
    #[error("service URL mismatch")]
    ServiceUrl,
    /// The keys could not be fetched.
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

/// A published key as JSON Web Key (RFC 7517): only RSA keys (`kty` `RSA`, with `n` and `e`:
/// RFC 7518, section 6.3) verify Bot Framework's RS256 tokens; any other key in the set (an
/// elliptic-curve or symmetric one, another algorithm's) is ignored, never read as RSA and
/// never allowed to replace an RSA key of the same `kid`.
#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kid: String,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    endorsements: Vec<String>,
}

/// An RSA key from the published set.
#[derive(Debug, Clone)]
struct RsaJwk {
    n: String,
    e: String,
    endorsements: Vec<String>,
}

impl Jwk {
    fn rsa(self) -> Option<(String, RsaJwk)> {
        match (self.kty.as_str(), self.n, self.e) {
            ("RSA", Some(n), Some(e)) => Some((
                self.kid,
                RsaJwk {
                    n,
                    e,
                    endorsements: self.endorsements,
                },
            )),
            _ => None,
        }
    }
}

/// The published set. A key that is not even a JSON Web Key is skipped like a non-RSA one.
#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Claims {
    /// `AuthenticationConstants.ServiceUrlClaim` (see the module docs).
    #[serde(rename = "serviceurl")]
    service_url: Option<String>,
}

/// A verified token: what still has to match the activity.
#[derive(Debug)]
pub struct Verified {
    service_url: Option<String>,
    endorsements: Vec<String>,
}

impl Verified {
    /// Checks the activity's channel and service URL against the token.
    pub fn check_activity(
        &self,
        channel_id: Option<&str>,
        service_url: Option<&str>,
    ) -> Result<(), AuthError> {
        let channel = channel_id.ok_or(AuthError::NotEndorsed)?;
        if !self.endorsements.iter().any(|e| e == channel) {
            return Err(AuthError::NotEndorsed);
        }
        match (self.service_url.as_deref(), service_url) {
            (Some(claim), Some(activity))
                if !claim.trim().is_empty() && claim.eq_ignore_ascii_case(activity) =>
            {
                Ok(())
            }
            _ => Err(AuthError::ServiceUrl),
        }
    }
}

struct KeyCache {
    keys: HashMap<String, RsaJwk>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
}

/// Verifies Bot Framework tokens, caching the published keys.
pub struct BotAuth {
    app_id: String,
    openid_url: String,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// Keys are refetched after this long.
    pub max_key_age: Duration,
    /// An unknown `kid` triggers a refetch at most this often.
    pub min_refresh_interval: Duration,
}

impl BotAuth {
    /// Tokens must be addressed to `app_id`; keys come from `openid_url`.
    pub fn new(app_id: String, openid_url: String, http: reqwest::Client) -> Self {
        Self {
            app_id,
            openid_url,
            http,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
                fetched: None,
                attempted: None,
            }),
            max_key_age: Duration::from_secs(24 * 3600),
            min_refresh_interval: Duration::from_secs(60),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let fail = |e: reqwest::Error| {
            tracing::error!(error = %e, "fetching Bot Framework signing keys failed");
            AuthError::KeysUnavailable
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(fail)?
            .error_for_status()
            .map_err(fail)?;
        response.json().await.map_err(fail)
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, RsaJwk>, AuthError> {
        let metadata: Metadata = self.get_json(&self.openid_url).await?;
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await?;
        let keys: HashMap<String, RsaJwk> = jwks
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .filter_map(Jwk::rsa)
            .collect();
        if keys.is_empty() {
            tracing::error!("the Bot Framework key set has no RSA signing key");
            return Err(AuthError::KeysUnavailable);
        }
        Ok(keys)
    }

    async fn key(&self, kid: &str) -> Result<RsaJwk, AuthError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched
                .is_some_and(|t| t.elapsed() < self.max_key_age);
            if let (true, Some(key)) = (fresh, cache.keys.get(kid)) {
                return Ok(key.clone());
            }
        }
        let mut cache = self.cache.write().await;
        let unknown = !cache.keys.contains_key(kid);
        let stale = cache
            .fetched
            .is_none_or(|t| t.elapsed() >= self.max_key_age);
        // Throttled on attempts, not successes, so a failing key endpoint or a stream of made-up
        // `kid`s cannot turn every request into two outbound calls.
        let may_refetch = cache
            .attempted
            .is_none_or(|t| t.elapsed() >= self.min_refresh_interval);
        if (stale || unknown) && may_refetch {
            cache.attempted = Some(Instant::now());
            match self.fetch_keys().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) if cache.keys.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        cache.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    /// Verifies the `Authorization` header value.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Verified, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or(AuthError::MissingToken)?
            .trim();
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid);
        }
        let kid = header.kid.ok_or(AuthError::Malformed)?;
        let jwk = self.key(&kid).await?;
        let key =
            DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|_| AuthError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[&self.app_id]);
        validation.leeway = 300;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            tracing::warn!(reason = %e, "Bot Framework token rejected");
            AuthError::Invalid
        })?;
        Ok(Verified {
            service_url: data.claims.service_url,
            endorsements: jwk.endorsements,
        })
    }
}
