//! Request authentication shared by the HTTP functions: HMAC-signed server-to-server calls
//! (payment webhook, auth-service signups) and bearer JWTs of the identity provider
//! (dashboard, admin). Failures map to 4xx and never echo secrets or tokens.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::StatusCode;
use jsonwebtoken::{Algorithm, Validation};

use crate::jwks::{JwksCache, JwksSettings, KeyError};

use crate::domain::signature::{self, SignatureError};
use crate::ApiError;

/// The header carrying `t=<unix>,v1=<hex hmac>`.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Verifies the request's signature over the raw body.
pub fn verify_signed(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[String],
    tolerance_secs: i64,
) -> Result<(), ApiError> {
    let now = crate::clock::now().unix_timestamp();
    signature::verify(crate::http::header(headers, SIGNATURE_HEADER), body, secrets, now, tolerance_secs)
        .map_err(|e| signature_error(e, SIGNATURE_HEADER))
}

/// The answer to a failed signature check on `header`: 400 when the header is missing or
/// malformed (the caller's integration is broken), 401 when it is well formed but stale or
/// wrong (not signed by anyone holding one of our secrets).
pub fn signature_error(e: SignatureError, header: &str) -> ApiError {
    match e {
        SignatureError::Missing | SignatureError::Malformed => {
            ApiError::bad_request("invalid_signature_header", format!("{e}; header {header}"))
        }
        SignatureError::Expired(_) => ApiError::new(StatusCode::UNAUTHORIZED, "signature_expired", e.to_string()),
        SignatureError::Mismatch => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()),
    }
}

/// The verified caller of a bearer JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    /// The roles from the configured roles claim(s) (`JWT_ROLES_CLAIM`).
    pub roles: Vec<String>,
    admin: bool,
}

impl Claims {
    /// Whether the caller holds the admin role (`JWT_ADMIN_ROLE`, default `admin`).
    pub fn is_admin(&self) -> bool {
        self.admin
    }
}

/// Where verification keys come from.
#[derive(Clone)]
enum Keys {
    /// The identity provider's JWKS (RS256/ES256, key by `kid`): what every deployment uses.
    Jwks(Arc<JwksCache>),
    /// One HS256 shared secret: local development and tests only.
    Hs256(Arc<jsonwebtoken::DecodingKey>),
}

/// Verifies bearer JWTs: signature (one algorithm per key, so `alg: none` and algorithm
/// confusion are refused), `exp` required, `nbf` honoured, 30 s leeway, `iss` and the
/// audience claim when configured (always with a JWKS).
///
/// Configuration (`from_env`): `JWT_JWKS_URL` with `JWT_ISSUER` and `JWT_AUDIENCE` (comma-
/// separated) required; `JWT_AUDIENCE_CLAIM` (`aud`, or `client_id` for Cognito access
/// tokens); `JWT_ROLES_CLAIM` (comma-separated claim names, each a string or a list; default
/// `roles,role`; e.g. `cognito:groups`, `https://example.com/roles`); `JWT_ADMIN_ROLE`
/// (default `admin`); `JWT_JWKS_CACHE_SECS` (600) and `JWT_JWKS_MIN_REFETCH_SECS` (15).
/// Local/test only: `JWT_ALLOW_HS256=true` with `JWT_HS256_SECRET` instead of a JWKS.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: Keys,
    issuer: Option<String>,
    audiences: Vec<String>,
    audience_claim: String,
    roles_claims: Vec<String>,
    admin_role: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Jwks(cache) => format!("{cache:?}"),
            Keys::Hs256(_) => "HS256 (redacted)".into(),
        };
        write!(f, "JwtVerifier {{ keys: {keys}, issuer: {:?}, audiences: {:?} }}", self.issuer, self.audiences)
    }
}

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
const DEFAULT_ROLES_CLAIMS: &str = "roles,role";

fn list(raw: &str) -> Vec<String> {
    raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

impl JwtVerifier {
    fn with(keys: Keys, issuer: Option<&str>, audience: Option<&str>) -> Self {
        Self {
            keys,
            issuer: issuer.map(str::to_string),
            audiences: audience.map(list).unwrap_or_default(),
            audience_claim: "aud".into(),
            roles_claims: list(DEFAULT_ROLES_CLAIMS),
            admin_role: "admin".into(),
        }
    }

    /// HS256 with a shared secret — local development and tests only.
    pub fn hs256(secret: &str, issuer: Option<&str>, audience: Option<&str>) -> Self {
        Self::with(Keys::Hs256(Arc::new(jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()))), issuer, audience)
    }

    /// A JWKS-backed verifier (issuer and audience are required).
    pub fn jwks(settings: JwksSettings, issuer: &str, audience: &str) -> Result<Self, String> {
        Ok(Self::with(Keys::Jwks(Arc::new(JwksCache::new(settings)?)), Some(issuer), Some(audience)))
    }

    /// The claim(s) carrying roles, and the role that grants admin.
    pub fn with_roles(mut self, claims: &str, admin_role: &str) -> Self {
        self.roles_claims = list(claims);
        self.admin_role = admin_role.to_string();
        self
    }

    /// The claim the audience is read from (`aud`, or e.g. `client_id`).
    pub fn with_audience_claim(mut self, claim: &str) -> Self {
        self.audience_claim = claim.to_string();
        self
    }

    /// JWKS fetches attempted so far (0 for HS256).
    pub fn jwks_fetches(&self) -> u64 {
        match &self.keys {
            Keys::Jwks(cache) => cache.fetches(),
            Keys::Hs256(_) => 0,
        }
    }

    /// See the type's documentation for the variables.
    pub fn from_env(src: &dyn crate::config::Source) -> Result<Self, crate::config::ConfigError> {
        use crate::config::{optional, parsed_or, required, ConfigError};
        let jwks_url = optional(src, "JWT_JWKS_URL");
        let hs256 = optional(src, "JWT_HS256_SECRET");
        let verifier = match (jwks_url, hs256) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "JWT_HS256_SECRET",
                    reason: "set either JWT_JWKS_URL or (locally) JWT_HS256_SECRET, not both".into(),
                })
            }
            (Some(url), None) => {
                validate_jwks_url(&url).map_err(|reason| ConfigError::Invalid { key: "JWT_JWKS_URL", reason })?;
                let issuer =
                    required(src, "JWT_ISSUER", "the exact iss claim of the tokens (required with JWT_JWKS_URL)")?;
                let audience = required(
                    src,
                    "JWT_AUDIENCE",
                    "the accepted audience(s), comma-separated (required with JWT_JWKS_URL)",
                )?;
                let settings = JwksSettings {
                    url,
                    max_age: Duration::from_secs(parsed_or(src, "JWT_JWKS_CACHE_SECS", 600u64)?),
                    min_refetch: Duration::from_secs(parsed_or(src, "JWT_JWKS_MIN_REFETCH_SECS", 15u64)?),
                };
                Self::jwks(settings, &issuer, &audience)
                    .map_err(|reason| ConfigError::Invalid { key: "JWT_JWKS_URL", reason })?
            }
            (None, Some(_)) => {
                if !parsed_or(src, "JWT_ALLOW_HS256", false)? {
                    return Err(ConfigError::Invalid {
                        key: "JWT_HS256_SECRET",
                        reason: "HS256 is a local/test option: set JWT_ALLOW_HS256=true for that, \
                                 or JWT_JWKS_URL (with JWT_ISSUER, JWT_AUDIENCE) in AWS"
                            .into(),
                    });
                }
                let secret = crate::config::secrets(src, "JWT_HS256_SECRET", "the local HS256 token secret")?.remove(0);
                let issuer = optional(src, "JWT_ISSUER");
                let audience = optional(src, "JWT_AUDIENCE");
                Self::hs256(&secret, issuer.as_deref(), audience.as_deref())
            }
            (None, None) => return Err(ConfigError::Missing {
                key: "JWT_JWKS_URL",
                hint:
                    "the JWKS URL of the identity provider that signs bearer tokens (with JWT_ISSUER and JWT_AUDIENCE)",
            }),
        };
        let audience_claim = optional(src, "JWT_AUDIENCE_CLAIM").unwrap_or_else(|| "aud".into());
        let roles = optional(src, "JWT_ROLES_CLAIM").unwrap_or_else(|| DEFAULT_ROLES_CLAIMS.into());
        let admin_role = optional(src, "JWT_ADMIN_ROLE").unwrap_or_else(|| "admin".into());
        Ok(verifier.with_audience_claim(&audience_claim).with_roles(&roles, &admin_role))
    }

    /// The verified claims of the request's `Authorization: Bearer` token; 401 if it is not
    /// valid, 503 if the identity provider's keys cannot be fetched.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<Claims, ApiError> {
        let header = crate::http::header(headers, "authorization")
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be a Bearer token"))?;
        self.verify_token(token.trim()).await
    }

    /// [`verify`](Self::verify) for a bare token.
    pub async fn verify_token(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("invalid token");
        let (algorithm, key) = match &self.keys {
            Keys::Hs256(key) => (Algorithm::HS256, key.clone()),
            Keys::Jwks(cache) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
                let kid = header.kid.ok_or_else(|| ApiError::unauthorized("invalid token: no kid"))?;
                let signing = cache.key(&kid).await.map_err(|e| match e {
                    KeyError::Unknown => {
                        tracing::info!(kid = %kid, outcome = "unknown_kid", "bearer token refused");
                        ApiError::unauthorized("invalid token: unknown signing key")
                    }
                    KeyError::Unavailable(reason) => {
                        tracing::warn!(error = %reason, outcome = "jwks_unavailable", "cannot verify bearer tokens");
                        ApiError::unavailable("cannot verify sign-ins right now; retry shortly")
                    }
                })?;
                if header.alg != signing.algorithm {
                    return Err(invalid());
                }
                (signing.algorithm, signing.key)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        let check_aud_here = self.audience_claim == "aud" && !self.audiences.is_empty();
        if check_aud_here {
            validation.set_audience(&self.audiences);
        } else {
            validation.validate_aud = false;
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => ApiError::unauthorized("token expired; sign in again"),
                    ErrorKind::ImmatureSignature => ApiError::unauthorized("token not valid yet (nbf)"),
                    _ => invalid(),
                }
            })?;
        let claims = data.claims;
        if !check_aud_here && !self.audiences.is_empty() {
            let presented = strings(claims.get(&self.audience_claim));
            if !presented.iter().any(|a| self.audiences.contains(a)) {
                return Err(invalid());
            }
        }
        let sub = claims.get("sub").and_then(|v| v.as_str()).filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let mut roles: Vec<String> = Vec::new();
        for claim in &self.roles_claims {
            for role in strings(claims.get(claim)) {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        let admin = roles.contains(&self.admin_role);
        Ok(Claims { sub: sub.to_string(), roles, admin })
    }
}

/// A claim that is a string or a list of strings (anything else: none).
fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// https, or http to a loopback host (the local issuer of `make dev` and the tests).
fn validate_jwks_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{e} (got {raw:?})"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("must be an https URL (http only on 127.0.0.1), got {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_env as env;

    fn hs_token(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    const SECRET: &str = "unit-test-secret-0123456789abcdef";

    fn now() -> i64 {
        crate::clock::now().unix_timestamp()
    }

    #[test]
    fn jwks_needs_issuer_and_audience_and_hs256_needs_an_explicit_opt_in() {
        let missing = JwtVerifier::from_env(&env(&[])).unwrap_err().to_string();
        assert!(missing.contains("JWT_JWKS_URL"), "{missing}");
        let no_iss = JwtVerifier::from_env(&env(&[("JWT_JWKS_URL", "https://idp.example/jwks.json")])).unwrap_err();
        assert!(no_iss.to_string().contains("JWT_ISSUER"), "{no_iss}");
        let no_aud = JwtVerifier::from_env(&env(&[
            ("JWT_JWKS_URL", "https://idp.example/jwks.json"),
            ("JWT_ISSUER", "https://idp.example/"),
        ]))
        .unwrap_err();
        assert!(no_aud.to_string().contains("JWT_AUDIENCE"), "{no_aud}");
        let ok = JwtVerifier::from_env(&env(&[
            ("JWT_JWKS_URL", "https://idp.example/jwks.json"),
            ("JWT_ISSUER", "https://idp.example/"),
            ("JWT_AUDIENCE", "app-1,app-2"),
        ]))
        .unwrap();
        assert_eq!(ok.audiences, ["app-1", "app-2"]);
        for bad in ["http://idp.example/jwks.json", "ftp://x/jwks", "not a url"] {
            let env = env(&[("JWT_JWKS_URL", bad), ("JWT_ISSUER", "i"), ("JWT_AUDIENCE", "a")]);
            assert!(JwtVerifier::from_env(&env).is_err(), "{bad}");
        }
        let hs = JwtVerifier::from_env(&env(&[("JWT_HS256_SECRET", SECRET)])).unwrap_err().to_string();
        assert!(hs.contains("JWT_ALLOW_HS256") && !hs.contains(SECRET), "{hs}");
        assert!(JwtVerifier::from_env(&env(&[("JWT_HS256_SECRET", SECRET), ("JWT_ALLOW_HS256", "true")])).is_ok());
        let both = env(&[
            ("JWT_HS256_SECRET", SECRET),
            ("JWT_ALLOW_HS256", "true"),
            ("JWT_JWKS_URL", "https://idp.example/jwks.json"),
            ("JWT_ISSUER", "i"),
            ("JWT_AUDIENCE", "a"),
        ]);
        assert!(JwtVerifier::from_env(&both).is_err());
    }

    #[tokio::test]
    async fn nbf_in_the_future_is_refused_exp_is_required() {
        let v = JwtVerifier::hs256(SECRET, None, None);
        let ok = hs_token(serde_json::json!({"sub": "u1", "exp": now() + 600, "nbf": now() - 5}), SECRET);
        assert_eq!(v.verify_token(&ok).await.unwrap().sub, "u1");
        let future = hs_token(serde_json::json!({"sub": "u1", "exp": now() + 7200, "nbf": now() + 3600}), SECRET);
        let err = v.verify_token(&future).await.unwrap_err();
        assert_eq!(err.status, 401);
        assert!(err.message.contains("nbf"), "{}", err.message);
        // Within the leeway: accepted (clock skew).
        let skew = hs_token(serde_json::json!({"sub": "u1", "exp": now() + 600, "nbf": now() + 10}), SECRET);
        assert!(v.verify_token(&skew).await.is_ok());
        let no_exp = hs_token(serde_json::json!({"sub": "u1"}), SECRET);
        assert_eq!(v.verify_token(&no_exp).await.unwrap_err().status, 401);
        let no_sub = hs_token(serde_json::json!({"exp": now() + 600}), SECRET);
        assert_eq!(v.verify_token(&no_sub).await.unwrap_err().status, 401);
    }

    #[tokio::test]
    async fn roles_come_from_the_configured_claims() {
        let token = hs_token(
            serde_json::json!({
                "sub": "ops-1", "exp": now() + 600,
                "cognito:groups": ["staff", "referral-admins"],
                "https://example.com/roles": "auditor",
                "role": "admin"
            }),
            SECRET,
        );
        let default = JwtVerifier::hs256(SECRET, None, None);
        let claims = default.verify_token(&token).await.unwrap();
        assert!(claims.is_admin(), "default claims role/roles, admin role 'admin'");
        let cognito = JwtVerifier::hs256(SECRET, None, None).with_roles("cognito:groups", "referral-admins");
        let claims = cognito.verify_token(&token).await.unwrap();
        assert_eq!(claims.roles, ["staff", "referral-admins"]);
        assert!(claims.is_admin());
        let auth0 = JwtVerifier::hs256(SECRET, None, None).with_roles("https://example.com/roles", "admin");
        let claims = auth0.verify_token(&token).await.unwrap();
        assert_eq!(claims.roles, ["auditor"]);
        assert!(!claims.is_admin(), "the legacy role claim is not read once another claim is configured");
    }

    #[tokio::test]
    async fn audience_from_aud_or_another_claim() {
        let aud = JwtVerifier::hs256(SECRET, Some("iss-1"), Some("app-1"));
        let good = hs_token(
            serde_json::json!({"sub": "u", "exp": now() + 600, "iss": "iss-1", "aud": ["x", "app-1"]}),
            SECRET,
        );
        assert!(aud.verify_token(&good).await.is_ok());
        let wrong =
            hs_token(serde_json::json!({"sub": "u", "exp": now() + 600, "iss": "iss-1", "aud": "other"}), SECRET);
        assert_eq!(aud.verify_token(&wrong).await.unwrap_err().status, 401);
        let wrong_iss =
            hs_token(serde_json::json!({"sub": "u", "exp": now() + 600, "iss": "evil", "aud": "app-1"}), SECRET);
        assert_eq!(aud.verify_token(&wrong_iss).await.unwrap_err().status, 401);
        // Cognito access tokens carry the app client in client_id and have no aud.
        let client_id = JwtVerifier::hs256(SECRET, Some("iss-1"), Some("app-1")).with_audience_claim("client_id");
        let access =
            hs_token(serde_json::json!({"sub": "u", "exp": now() + 600, "iss": "iss-1", "client_id": "app-1"}), SECRET);
        assert!(client_id.verify_token(&access).await.is_ok());
        let other =
            hs_token(serde_json::json!({"sub": "u", "exp": now() + 600, "iss": "iss-1", "client_id": "app-2"}), SECRET);
        assert_eq!(client_id.verify_token(&other).await.unwrap_err().status, 401);
    }

    #[tokio::test]
    async fn jwks_mode_refuses_tokens_without_kid_and_hmac_tokens() {
        let v = JwtVerifier::jwks(
            JwksSettings {
                url: "http://127.0.0.1:9/jwks.json".into(),
                max_age: Duration::from_secs(60),
                min_refetch: Duration::from_secs(60),
            },
            "iss",
            "aud",
        )
        .unwrap();
        // HS256 token: no kid → refused before any fetch.
        let hs = hs_token(serde_json::json!({"sub": "u", "exp": now() + 600}), SECRET);
        assert_eq!(v.verify_token(&hs).await.unwrap_err().status, 401);
        assert_eq!(v.jwks_fetches(), 0);
        // With a kid but an unreachable JWKS: 503, not a 401 the client would read as "sign in again".
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let with_kid = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"sub": "u", "exp": now() + 600}),
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(v.verify_token(&with_kid).await.unwrap_err().status, 503);
        assert_eq!(v.verify_token(&with_kid).await.unwrap_err().status, 503, "still 503 while rate-limited");
        assert_eq!(v.jwks_fetches(), 1, "the second call is within min_refetch");
    }
}
