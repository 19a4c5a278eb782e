//! Harness for money flows: a fresh table, a fake Wellflow, the real billing wiring, and
//! helpers that drive the real signup and webhook handlers with signed requests. The
//! functions' secrets are read from moto's Secrets Manager exactly as at a cold start
//! (`<NAME>_SECRET_ARN` → `GetSecretValue`), holding the test values below.

use std::collections::BTreeMap;

use adapters::billing::{settings, Billing, LiveBilling, SqsEventQueue, SqsRetryQueue};
use adapters::domain::signature::sign;
use adapters::domain::{BonusPolicy, PaymentId, RefCode, UserId};
use adapters::secrets::Secret;
use adapters::store::{DynamoStore, Users};
use fake_wellflow::FakeWellflow;
use lambda_http::{Body, Request, Response};
use local_stack::stream::StreamReader;
use referral_core::bonus::Bonus;
use referral_core::store::Payments;
use signup::SignupConfig;
use webhook::WebhookConfig;

use crate::counting::{counted_client, CallCounter};
use crate::requests::request;
use crate::TestStack;

pub const WEBHOOK_SECRET: &str = "whsec_test_secret_0123456789";
/// The Stripe endpoint's signing secret in tests.
pub const STRIPE_SECRET: &str = "whsec_stripe_test_0123456789abcdef";
pub const SIGNUP_SECRET: &str = "signup_test_secret_0123456789";
pub const IP_KEY: &str = "ip_hash_test_key_0123456789";
pub const WELLFLOW_KEY: &str = "wellflow-test-key";
/// The IP every referrer signs up from in these tests (referred users use others).
pub const REFERRER_IP: &str = "198.51.100.10";

/// The secrets of template.yaml (by logical id) with the values the tests sign and call with.
pub fn secret_values() -> BTreeMap<String, String> {
    [
        ("WebhookSigningSecret", WEBHOOK_SECRET),
        ("StripeWebhookSigningSecret", STRIPE_SECRET),
        ("SignupSigningSecret", SIGNUP_SECRET),
        ("IpHashKeySecret", IP_KEY),
        ("WellflowApiKeySecret", WELLFLOW_KEY),
        ("LeaderboardKeySecret", LEADERBOARD_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What the webhook, signup and dashboard functions read from Secrets Manager (their `SECRETS`).
pub const WEBHOOK_SECRETS: &[Secret] = webhook::SECRETS;
pub const SIGNUP_SECRETS: &[Secret] = signup::SECRETS;
pub const DASHBOARD_SECRETS: &[Secret] = dashboard::SECRETS;

pub struct BillingHarness {
    pub stack: TestStack,
    pub wellflow: FakeWellflow,
    pub billing: LiveBilling,
    /// The outbox dispatcher's queues (retries without delay in tests).
    pub retry: SqsRetryQueue,
    pub events: SqsEventQueue,
    /// Where the local stream mapping stands on the table's stream (the outbox).
    pub outbox: tokio::sync::Mutex<StreamReader>,
    pub webhook_cfg: WebhookConfig,
    pub signup_cfg: SignupConfig,
    /// The dashboard's configuration (links on [`LINK_BASE_URL`], secret from Secrets Manager).
    pub dashboard_cfg: dashboard::DashboardConfig,
    /// Counts the DynamoDB operations the billing store sends.
    pub calls: CallCounter,
}

impl BillingHarness {
    pub async fn new() -> Self {
        Self::with_policy(BonusPolicy::default()).await
    }

    pub async fn with_policy(policy: BonusPolicy) -> Self {
        let stack = TestStack::new().await;
        let wellflow = FakeWellflow::start(WELLFLOW_KEY).await.expect("fake Wellflow starts");
        let calls = CallCounter::default();
        let store = DynamoStore::new(counted_client(&stack.sdk, &calls), stack.table().to_string());
        // The functions' configuration as at a cold start: secrets from Secrets Manager.
        let env = stack.function_env(&[
            ("WELLFLOW_BASE_URL", &wellflow.base_url),
            ("WELLFLOW_TIMEOUT_MS", "800"),
            ("STRIPE_LIVEMODE", "false"),
        ]);
        let webhook_env = stack.with_secrets(&env, WEBHOOK_SECRETS).await;
        let signup_env = stack.with_secrets(&env, SIGNUP_SECRETS).await;
        let dashboard_base =
            stack.function_env(&[("LINK_BASE_URL", LINK_BASE_URL), ("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")]);
        let dashboard_env = stack.with_secrets(&dashboard_base, DASHBOARD_SECRETS).await;
        let client = settings::wellflow_from_env(&webhook_env).expect("Wellflow client");
        let retry = SqsRetryQueue::new(stack.sqs.clone(), stack.queue_url("CreditRetryQueue"), 0);
        let events = SqsEventQueue::new(stack.sqs.clone(), stack.queue_url("PartnerWebhookQueue"));
        let outbox =
            StreamReader::new(&stack.sdk, stack.provisioned.stream_arn.clone().expect("the table has a stream"));
        Self {
            billing: Billing::new(store, client, policy),
            retry,
            events,
            outbox: tokio::sync::Mutex::new(outbox),
            webhook_cfg: WebhookConfig::from_env(&webhook_env).expect("webhook config"),
            signup_cfg: SignupConfig::from_env(&signup_env).expect("signup config"),
            dashboard_cfg: dashboard::DashboardConfig::from_env(&dashboard_env).expect("dashboard config"),
            calls,
            wellflow,
            stack,
        }
    }

    pub fn store(&self) -> &DynamoStore {
        &self.billing.store
    }

    /// A POST signed with `secret` at the current time.
    pub fn signed(uri: &str, body: &str, secret: &str) -> Request {
        let header = sign(secret, adapters::clock::now().unix_timestamp(), body.as_bytes());
        request("POST", uri, &[("x-signature", &header), ("content-type", "application/json")], Body::Text(body.into()))
    }

    /// Calls the real signup handler.
    pub async fn signup(&self, user: &str, ref_code: Option<&str>, ip: &str) -> Response<Body> {
        let body = serde_json::json!({ "user_id": user, "ref_code": ref_code, "signup_ip": ip }).to_string();
        signup::handle(self.store(), &self.signup_cfg, &Self::signed("/signups", &body, SIGNUP_SECRET)).await
    }

    /// Makes `referrer` a referrer (own signup from REFERRER_IP + a code) and signs `user`
    /// up through their link from `ip`. Returns the referrer's code.
    pub async fn refer_from(&self, referrer: &str, user: &str, ip: &str) -> RefCode {
        let referrer_id = UserId::parse(referrer).expect("referrer id");
        if self.store().user(&referrer_id).await.expect("read").and_then(|p| p.signup_ip_hash).is_none() {
            let resp = self.signup(referrer, None, REFERRER_IP).await;
            assert_eq!(resp.status(), 200, "referrer signup");
        }
        let code = self.store().ensure_code(&referrer_id).await.expect("code");
        let resp = self.signup(user, Some(code.as_str()), ip).await;
        assert_eq!(resp.status(), 200, "referred signup");
        let v = crate::body_json(&resp);
        assert_eq!(v["attributed"], true, "{v}");
        code
    }

    /// `refer_from` with a distinct IP per referred user.
    pub async fn refer(&self, referrer: &str, user: &str) -> RefCode {
        let n: u32 = user.bytes().map(u32::from).sum::<u32>() % 250 + 1;
        self.refer_from(referrer, user, &format!("203.0.113.{n}")).await
    }

    pub fn event_body(payment: &str, user: &str, amount: &str, kind: &str) -> String {
        serde_json::json!({
            "payment_id": payment,
            "user_id": user,
            "amount": amount,
            "currency": "USD",
            "type": kind,
            "occurred_at": "2026-11-25T09:00:00Z",
        })
        .to_string()
    }

    /// Delivers a signed event to the real webhook handler.
    pub async fn deliver_raw(&self, body: &str) -> Response<Body> {
        webhook::handle(&self.billing, &self.webhook_cfg, &Self::signed("/webhooks/payments", body, WEBHOOK_SECRET))
            .await
    }

    /// Delivers a Stripe event, signed as Stripe signs (`Stripe-Signature`), to the real handler.
    pub async fn stripe(&self, event: &serde_json::Value) -> Response<Body> {
        webhook::handle(&self.billing, &self.webhook_cfg, &Self::stripe_request(event)).await
    }

    /// A Stripe event as Stripe posts it (signed with [`STRIPE_SECRET`] now).
    pub fn stripe_request(event: &serde_json::Value) -> Request {
        let body = event.to_string();
        let header = webhook::stripe::sign(STRIPE_SECRET, adapters::clock::now().unix_timestamp(), body.as_bytes());
        request(
            "POST",
            "/webhooks/stripe",
            &[("stripe-signature", &header), ("content-type", "application/json")],
            Body::Text(body),
        )
    }

    pub async fn topup(&self, payment: &str, user: &str, amount: &str) -> Response<Body> {
        self.deliver_raw(&Self::event_body(payment, user, amount, "topup.succeeded")).await
    }

    /// `total`: the payment's total refunded so far (cumulative, as the contract says).
    pub async fn refund(&self, payment: &str, user: &str, total: &str) -> Response<Body> {
        self.deliver_raw(&Self::event_body(payment, user, total, "topup.refunded")).await
    }

    pub async fn bonus(&self, payment: &str) -> Option<Bonus> {
        self.store().bonus(&PaymentId::parse(payment).expect("payment id")).await.expect("read bonus")
    }

    /// What Wellflow holds for one payment's bonus: its credits minus its debits (every key
    /// of the payment is `ref:auto:<payment>` or `ref:auto:<payment>#…`).
    pub fn wellflow_net(&self, payment: &str) -> rust_decimal::Decimal {
        let base = format!("ref:auto:{payment}");
        self.wellflow
            .stats()
            .transactions
            .iter()
            .filter(|t| t.idempotency_key == base || t.idempotency_key.starts_with(&format!("{base}#")))
            .map(|t| {
                let amount: rust_decimal::Decimal = t.amount.parse().expect("decimal");
                match t.kind {
                    fake_wellflow::Kind::Credit => amount,
                    fake_wellflow::Kind::Debit => -amount,
                }
            })
            .sum()
    }

    /// Reconciliation settings for tests: no lag or clock skew (the fake runs on our clock),
    /// missing credits re-issued on the second sighting without waiting.
    pub fn reconcile_cfg() -> referral_core::usecases::reconcile::ReconcileConfig {
        referral_core::usecases::reconcile::ReconcileConfig {
            lag: time::Duration::ZERO,
            skew: time::Duration::ZERO,
            confirm_credit_after: time::Duration::ZERO,
            ..Default::default()
        }
    }

    /// One reconciliation pass of `kind` (started, or an unfinished one continued), run to its
    /// end in this invocation.
    pub async fn reconcile(
        &self,
        kind: referral_core::store::PassKind,
    ) -> referral_core::usecases::reconcile::PassReport {
        let budget = referral_core::usecases::reconcile::Budget {
            deadline: adapters::clock::now() + time::Duration::minutes(5),
            max_pages: usize::MAX,
        };
        Box::pin(referral_core::usecases::reconcile::run_pass(
            &self.billing,
            &Self::reconcile_cfg(),
            kind,
            true,
            budget,
        ))
        .await
        .expect("the reconciliation pass runs")
    }

    /// Edits the fake Wellflow's book behind the API's back (a drift to find).
    pub fn tamper(&self, edit: fake_wellflow::LedgerEdit) -> fake_wellflow::Transaction {
        self.wellflow.edit(edit).expect("the fake's ledger accepts the edit")
    }

    /// Every bonus row in the table.
    pub async fn bonus_rows(&self) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.stack.all_items().await.into_iter().filter(|i| crate::stack::text(i, "SK") == "BONUS").collect()
    }

    /// The retry consumer's backoff settings (no delay in tests).
    pub fn backoff(&self) -> credit_retry::Backoff {
        credit_retry::Backoff {
            sqs: self.stack.sqs.clone(),
            queue_url: self.stack.queue_url("CreditRetryQueue").to_string(),
            base_delay_secs: 0,
        }
    }

    /// Runs the outbox dispatcher on the table's stream, like Lambda's event source mapping,
    /// until nothing new arrives; returns how many outbox messages were delivered.
    pub async fn drain_outbox(&self) -> usize {
        self.drain_outbox_with(&self.retry).await
    }

    /// [`Self::drain_outbox`] with another retry queue (e.g. one that does not exist).
    pub async fn drain_outbox_with(&self, retry: &SqsRetryQueue) -> usize {
        self.drain_outbox_to(retry, &self.events).await
    }

    /// [`Self::drain_outbox`] with other queues.
    pub async fn drain_outbox_to(&self, retry: &SqsRetryQueue, events: &SqsEventQueue) -> usize {
        let mut reader = self.outbox.lock().await;
        let mut delivered = 0;
        loop {
            let polled = reader
                .poll_once(|event| async {
                    let n = event.records.len();
                    let response = outbox_dispatcher::handle_batch(retry, events, event).await;
                    delivered += n - response.batch_item_failures.len();
                    Ok(response)
                })
                .await
                .expect("read the outbox stream");
            match polled {
                None => return delivered,
                // Failed deliveries are re-read at once: stop instead of spinning on a dead queue.
                Some(response) if !response.batch_item_failures.is_empty() => return delivered,
                Some(_) => {}
            }
        }
    }

    /// Runs the retry consumer like Lambda's event source mapping until the queue is empty
    /// (or `max_batches`), delivering the outbox first and after every batch (a failed retry
    /// schedules its next one there); returns how many batches ran.
    pub async fn run_retries(&self, max_batches: usize) -> usize {
        let backoff = self.backoff();
        self.drain_outbox().await;
        for batch in 0..max_batches {
            let polled = local_stack::esm::poll_once(&self.stack.sqs, &backoff.queue_url, 0, |event| async {
                Ok(credit_retry::handle_batch(&self.billing, &backoff, event).await)
            })
            .await
            .expect("poll retry queue");
            self.drain_outbox().await;
            if polled.is_none() {
                return batch;
            }
        }
        max_batches
    }

    /// Messages currently visible on a queue (drains them).
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .stack
                .sqs
                .receive_message()
                .queue_url(self.stack.queue_url(logical_id))
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for m in messages {
                bodies.push(m.body.unwrap_or_default());
                if let Some(handle) = m.receipt_handle {
                    let _ = self
                        .stack
                        .sqs
                        .delete_message()
                        .queue_url(self.stack.queue_url(logical_id))
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }
}

/// The link host of the tests (the dashboard's `LINK_BASE_URL`).
pub const LINK_BASE_URL: &str = "https://go.example.com";

/// The dashboard's `LEADERBOARD_SECRET` in tests.
pub const LEADERBOARD_SECRET: &str = "leaderboard_test_secret_0123456789abcdef";

/// The HS256 secret test tokens are signed with.
pub const JWT_SECRET: &str = "jwt_test_secret_0123456789abcdef";

/// A bearer token for `sub` with an optional role, expiring `ttl_secs` from now (negative = expired).
pub fn token(sub: &str, role: Option<&str>, ttl_secs: i64) -> String {
    token_signed(sub, role, ttl_secs, JWT_SECRET)
}

pub fn token_signed(sub: &str, role: Option<&str>, ttl_secs: i64, secret: &str) -> String {
    let claims = token_claims(sub, role, ttl_secs);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token encodes")
}

/// The claims of a test token: `sub`, `exp` and, with a role, `role`.
pub fn token_claims(sub: &str, role: Option<&str>, ttl_secs: i64) -> serde_json::Value {
    let mut claims = serde_json::json!({ "sub": sub, "exp": adapters::clock::now().unix_timestamp() + ttl_secs });
    if let Some(role) = role {
        claims["role"] = role.into();
    }
    claims
}

/// An unsigned `alg: none` token (must always be refused).
pub fn token_alg_none(sub: &str, role: Option<&str>) -> String {
    use base64::Engine;
    let enc = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = adapters::clock::now().unix_timestamp() + 600;
    format!(
        "{}.{}.",
        enc(serde_json::json!({"alg":"none","typ":"JWT"})),
        enc(serde_json::json!({"sub":sub,"exp":exp,"role":role}))
    )
}

impl BillingHarness {
    /// The admin API wired to this harness's store, Wellflow and queue.
    pub fn admin(&self) -> admin::Admin<DynamoStore, adapters::wellflow::WellflowClient> {
        admin::Admin {
            billing: self.billing.clone(),
            jwt: adapters::auth::JwtVerifier::hs256(JWT_SECRET, None, None),
            console: Default::default(),
        }
    }

    /// Calls the admin handler as `token` (None = no Authorization header).
    pub async fn admin_call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Response<Body> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty);
        admin::handle(&self.admin(), &request(method, uri, &headers, body)).await
    }
}

impl BillingHarness {
    /// The dashboard API on this harness's store (links on [`LINK_BASE_URL`]).
    pub fn dashboard(&self) -> dashboard::DashboardApi<DynamoStore> {
        dashboard::DashboardApi {
            store: self.billing.store.clone(),
            jwt: adapters::auth::JwtVerifier::hs256(JWT_SECRET, None, None),
            cfg: self.dashboard_cfg.clone(),
        }
    }

    /// GET on the dashboard as `user` (None = no token), with extra headers.
    pub async fn dash_get(&self, uri: &str, user: Option<&str>, extra: &[(&str, &str)]) -> Response<Body> {
        let auth = user.map(|u| format!("Bearer {}", token(u, None, 600)));
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        dashboard::handle(&self.dashboard(), &request("GET", uri, &headers, Body::Empty)).await
    }

    /// A dashboard call with any method and an optional JSON body, as `user`.
    pub async fn dash_call(
        &self,
        method: &str,
        uri: &str,
        user: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Response<Body> {
        let auth = user.map(|u| format!("Bearer {}", token(u, None, 600)));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty);
        dashboard::handle(&self.dashboard(), &request(method, uri, &headers, body)).await
    }

    /// Any method on `api` with raw headers (`authorization`, `x-api-key`, …) and a JSON body.
    pub async fn dash_call_with(
        &self,
        api: &dashboard::DashboardApi<DynamoStore>,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Response<Body> {
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/json"));
        let body = body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty);
        dashboard::handle(api, &request(method, uri, &headers, body)).await
    }
}
