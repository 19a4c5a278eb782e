//! Request authentication shared by the HTTP functions: HMAC-signed server-to-server calls
//! (payment webhook, auth-service signups). Failures map to 4xx and never echo secrets.

use http::StatusCode;
use lambda_http::Request;

use crate::domain::signature::{self, SignatureError};
use crate::ApiError;

/// The header carrying `t=<unix>,v1=<hex hmac>`.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Verifies the request's signature over the raw body.
pub fn verify_signed(req: &Request, body: &[u8], secrets: &[String], tolerance_secs: i64) -> Result<(), ApiError> {
    let now = crate::clock::now().unix_timestamp();
    signature::verify(crate::http::header(req, SIGNATURE_HEADER), body, secrets, now, tolerance_secs)
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

/// Claims we read from a bearer JWT (issued by the auth service).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    /// A single role (`"admin"`) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// … or a list of roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Claims {
    pub fn is_admin(&self) -> bool {
        self.role.as_deref() == Some("admin") || self.roles.iter().any(|r| r == "admin")
    }
}

/// Verifies bearer JWTs: one configured algorithm only (so `alg: none` and algorithm
/// confusion are refused), signature, `exp` (30 s leeway), optional `iss`/`aud`.
#[derive(Clone)]
pub struct JwtVerifier {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtVerifier {{ algorithms: {:?}, key: redacted }}", self.validation.algorithms)
    }
}

impl JwtVerifier {
    fn with(
        key: jsonwebtoken::DecodingKey,
        alg: jsonwebtoken::Algorithm,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Self {
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Self { key, validation }
    }

    /// HS256 with a shared secret.
    pub fn hs256(secret: &str, issuer: Option<&str>, audience: Option<&str>) -> Self {
        Self::with(
            jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
            issuer,
            audience,
        )
    }

    /// `JWT_RS256_PUBLIC_KEY` (PEM, preferred: the auth service keeps the private key) or
    /// `JWT_HS256_SECRET`; optional `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub fn from_env(src: &dyn crate::config::Source) -> Result<Self, crate::config::ConfigError> {
        use crate::config::{optional, ConfigError};
        let issuer = optional(src, "JWT_ISSUER");
        let audience = optional(src, "JWT_AUDIENCE");
        if let Some(pem) = optional(src, "JWT_RS256_PUBLIC_KEY") {
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.replace("\\n", "\n").as_bytes())
                .map_err(|e| ConfigError::Invalid { key: "JWT_RS256_PUBLIC_KEY", reason: e.to_string() })?;
            return Ok(Self::with(key, jsonwebtoken::Algorithm::RS256, issuer.as_deref(), audience.as_deref()));
        }
        let secret = crate::config::secrets(
            src,
            "JWT_HS256_SECRET",
            "set JWT_RS256_PUBLIC_KEY (PEM) or JWT_HS256_SECRET to verify bearer tokens",
        )?
        .remove(0);
        Ok(Self::hs256(&secret, issuer.as_deref(), audience.as_deref()))
    }

    /// The verified claims of the request's `Authorization: Bearer` token, or 401.
    pub fn verify(&self, req: &Request) -> Result<Claims, ApiError> {
        let header = crate::http::header(req, "authorization")
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be a Bearer token"))?;
        jsonwebtoken::decode::<Claims>(token.trim(), &self.key, &self.validation).map(|data| data.claims).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("token expired; sign in again"),
                _ => ApiError::unauthorized("invalid token"),
            }
        })
    }
}
