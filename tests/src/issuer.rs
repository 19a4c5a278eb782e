//! The local identity provider (`infra/local_issuer.py`, the one `make dev` runs) for tests:
//! a JWKS on a free loopback port, RS256/ES256 tokens with a `kid`, key rotation. One per
//! test that needs it (rotation changes its state); stopped when dropped.

use std::process::Child;

use serde_json::{json, Value};

/// The audience of every token the local issuer mints.
pub const AUDIENCE: &str = "referrals-local";

pub struct LocalIssuer {
    /// `http://127.0.0.1:<port>`, also the tokens' `iss`.
    pub url: String,
    child: Child,
    http: reqwest::Client,
}

impl LocalIssuer {
    /// Starts an issuer whose first signing key uses `alg` (`RS256` or `ES256`).
    pub fn start(alg: &str) -> LocalIssuer {
        let (child, url) =
            crate::moto::spawn_server("local_issuer.py", &["serve", "--alg", alg], "ISSUER_URL", "ISSUER_LOG");
        adapters::aws::install_crypto_provider();
        LocalIssuer { url, child, http: reqwest::Client::new() }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url)
    }

    /// The environment a dashboard/admin function verifies this issuer's tokens with.
    pub fn verifier_env(&self, extra: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        let mut env: std::collections::HashMap<String, String> = [
            ("JWT_JWKS_URL", self.jwks_url()),
            ("JWT_ISSUER", self.url.clone()),
            ("JWT_AUDIENCE", AUDIENCE.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.expect("local issuer");
        assert!(resp.status().is_success(), "issuer {path}: {}", resp.status());
        resp.json().await.expect("issuer JSON")
    }

    /// A token (see `infra/local_issuer.py` for the request fields: sub, roles, ttl, nbf, exp, kid, claims).
    pub async fn mint(&self, request: Value) -> String {
        self.post("/mint", request).await["token"].as_str().expect("token").to_string()
    }

    /// A token for `sub` with `roles`, valid for 10 minutes, signed with the newest key.
    pub async fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.mint(json!({ "sub": sub, "roles": roles, "ttl": 600 })).await
    }

    /// A new signing key (published alongside the old ones); returns its kid.
    pub async fn rotate(&self, alg: &str) -> String {
        self.post("/rotate", json!({ "alg": alg })).await["kid"].as_str().expect("kid").to_string()
    }

    /// Stops publishing `kid` (tokens it signs must then be refused).
    pub async fn retire(&self, kid: &str) {
        self.post("/retire", json!({ "kid": kid })).await;
    }

    /// How many times the JWKS was fetched.
    pub async fn jwks_requests(&self) -> u64 {
        let stats: Value =
            self.http.get(format!("{}/__stats", self.url)).send().await.expect("stats").json().await.expect("JSON");
        stats["jwks_requests"].as_u64().expect("count")
    }
}

impl Drop for LocalIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
