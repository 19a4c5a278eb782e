//! Data and requests of the bench runs: referred users whose first top-up gets credited
//! (signed up through the real signup handler, five per referrer so the velocity cap of 5 never
//! holds one), signed top-up events, and a dashboard bearer token.

use std::sync::atomic::{AtomicUsize, Ordering};

use adapters::domain::signature::sign;
use adapters::domain::UserId;
use adapters::store::{DynamoStore, Users};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use lambda_http::Body;
use sha2::Sha256;
use signup::SignupConfig;

pub const SIGNUP_SECRET: &str = "signup_bench_secret_0123456789ab";
pub const IP_HASH_KEY: &str = "ip_hash_bench_key_0123456789abcd";
pub const JWT_SECRET: &str = "jwt_bench_secret_0123456789abcdef";
pub const LEADERBOARD_SECRET: &str = "leaderboard_bench_secret_0123456789abcdef";
pub const WELLFLOW_KEY: &str = "bench-wellflow-key";
/// Referred users per referrer: the default velocity cap (5 first top-ups per 24 h).
const PER_REFERRER: usize = 5;
const REFERRER_IP: &str = "198.51.100.10";

/// Referred users that have not topped up yet, handed out one per top-up event.
#[derive(Debug, Default)]
pub struct Payers {
    ids: Vec<String>,
    next: AtomicUsize,
}

impl Payers {
    pub fn referrer(i: usize) -> String {
        format!("bench-ref-{i}")
    }

    fn payer(i: usize) -> String {
        format!("bench-payer-{i}")
    }

    /// The referrer whose dashboard the KPI runs read (its payers top up first).
    pub fn dashboard_user() -> String {
        Self::referrer(0)
    }

    /// A signed first top-up of $50.00 by a referred user not used before.
    pub fn next_topup(&self) -> Result<(String, String), String> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let user = self.ids.get(i).ok_or_else(|| format!("only {} payers seeded", self.ids.len()))?;
        Ok(signed_topup(&format!("bench_pay_{i}"), user))
    }
}

impl Payers {
    /// A signed top-up for the Python peer: a seeded payer (reused in turn: the peer writes
    /// under keys of its own) and a payment id never used before.
    pub fn python_topup(&self) -> Result<(String, String), String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        let user = self.ids.get(i % self.ids.len().max(1)).ok_or("no payers seeded")?;
        Ok(signed_topup(&format!("py_pay_{i}"), user))
    }
}

/// `(body, x-signature)` of a `topup.succeeded` event, signed now with the bench secret.
pub fn signed_topup(payment: &str, user: &str) -> (String, String) {
    let body = serde_json::json!({
        "payment_id": payment,
        "user_id": user,
        "amount": "50.00",
        "currency": "USD",
        "type": "topup.succeeded",
        "occurred_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
    .to_string();
    let header = sign(crate::fixtures::WEBHOOK_SECRET, adapters::clock::now().unix_timestamp(), body.as_bytes());
    (body, header)
}

async fn signup(
    store: &DynamoStore,
    cfg: &SignupConfig,
    user: &str,
    code: Option<&str>,
    ip: &str,
) -> Result<(), String> {
    let body = serde_json::json!({ "user_id": user, "ref_code": code, "signup_ip": ip }).to_string();
    let header = sign(SIGNUP_SECRET, adapters::clock::now().unix_timestamp(), body.as_bytes());
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/signups")
        .header("x-signature", header)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .map_err(|e| e.to_string())?;
    let resp = signup::handle(store, cfg, &req).await;
    if resp.status() != 200 {
        return Err(format!("signup of {user} answered {}", resp.status()));
    }
    Ok(())
}

/// Signs up `count` referred users (and their referrers) through the real signup handler.
pub fn seed_payers(endpoint: &str, table: &str, count: usize) -> Result<Payers, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let sdk = local_stack::local_sdk_config(endpoint);
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.to_string());
        let cfg =
            SignupConfig { secrets: vec![SIGNUP_SECRET.into()], tolerance_secs: 300, ip_hash_key: IP_HASH_KEY.into() };
        let mut ids = Vec::with_capacity(count);
        for r in 0..count.div_ceil(PER_REFERRER) {
            let referrer = Payers::referrer(r);
            signup(&store, &cfg, &referrer, None, REFERRER_IP).await?;
            let id = UserId::parse(&referrer).map_err(|e| e.to_string())?;
            let code = store.ensure_code(&id).await.map_err(|e| e.to_string())?;
            for k in 0..PER_REFERRER {
                let i = r * PER_REFERRER + k;
                if i >= count {
                    break;
                }
                let payer = Payers::payer(i);
                let ip = format!("203.0.{}.{}", 113 + (i / 250) % 100, i % 250 + 1);
                signup(&store, &cfg, &payer, Some(code.as_str()), &ip).await?;
                ids.push(payer);
            }
        }
        Ok(Payers { ids, next: AtomicUsize::new(0) })
    })
}

/// Creates the bench's HS256 token secret in moto's Secrets Manager (the dashboard's
/// `JWT_HS256_SECRET`, read at cold start like every other secret; AWS uses a JWKS) and returns
/// its ARN.
pub fn create_jwt_secret(endpoint: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let sdk = local_stack::local_sdk_config(endpoint);
        let out = adapters::aws::secretsmanager(&sdk)
            .create_secret()
            .name(format!("bench-jwt-hs256-{}", std::process::id()))
            .secret_string(JWT_SECRET)
            .send()
            .await
            .map_err(|e| format!("CreateSecret on moto: {e:?}"))?;
        out.arn().map(str::to_string).ok_or_else(|| "CreateSecret answered no ARN".to_string())
    })
}

/// An HS256 bearer token for `sub`, valid for an hour (what the auth service issues).
pub fn bearer_token(sub: &str) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let exp = adapters::clock::now().unix_timestamp() + 3600;
    let claims = b64(serde_json::json!({ "sub": sub, "exp": exp }).to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(JWT_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("{header}.{claims}.{}", b64(&mac.finalize().into_bytes()))
}
