//! Outbound partner webhooks end to end: registration through the real dashboard handler,
//! top-ups and refunds through the real payment webhook, the queue drained through the real
//! `partner-webhooks` sender, and a local receiver (127.0.0.1) that verifies every
//! `Referral-Signature` with the secret returned at registration, like a partner would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::domain::partner_webhook::{event_id, UrlPolicy};
use adapters::domain::signature;
use adapters::domain::{BonusStatus, PartnerEventType, PaymentId};
use adapters::store::DynamoStore;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use integration_tests::billing::{token, BillingHarness, REFERRER_IP};
use integration_tests::body_json;
use integration_tests::stack::text;
use partner_webhooks::{Backoff, Sender};
use serde_json::{json, Value};

const ALL_EVENTS: [&str; 3] = ["bonus.created", "bonus.credited", "bonus.reversed"];

/// One request the receiver got, and whether its signature verified.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) body: Value,
    pub(crate) signature: String,
    pub(crate) raw: Vec<u8>,
    pub(crate) verified: bool,
}

#[derive(Default)]
struct ReceiverState {
    /// The secret the partner verifies with (set from the registration response).
    secret: String,
    /// Statuses to answer, in order; 200 once empty.
    script: VecDeque<u16>,
    got: Vec<Received>,
}

/// A partner's endpoint on a free loopback port: verifies, records, answers as scripted.
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        async fn hook(State(state): State<Arc<Mutex<ReceiverState>>>, headers: HeaderMap, raw: Bytes) -> StatusCode {
            let signature = headers.get("referral-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let mut s = state.lock().unwrap();
            let now = adapters::clock::now().unix_timestamp();
            let verified = signature::verify(Some(&signature), &raw, &[s.secret.clone()], now, 300).is_ok();
            let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            s.got.push(Received { body, signature, raw: raw.to_vec(), verified });
            if !verified {
                return StatusCode::UNAUTHORIZED; // what a partner does with a bad signature
            }
            StatusCode::from_u16(s.script.pop_front().unwrap_or(200)).unwrap()
        }
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = axum::Router::new().route("/hook", post(hook)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, state }
    }

    pub(crate) fn set_secret(&self, secret: &str) {
        self.state.lock().unwrap().secret = secret.to_string();
    }

    fn script(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    pub(crate) fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

/// The real sender on this harness's table and queue (`base_delay_secs` of backoff).
pub(crate) fn sender(h: &BillingHarness, base_delay_secs: u32) -> Sender<DynamoStore> {
    let policy = UrlPolicy { allow_http_loopback: true };
    Sender {
        store: h.billing.store.clone(),
        http: partner_webhooks::client::http_client(policy).unwrap(),
        policy,
        backoff: Backoff {
            sqs: h.stack.sqs.clone(),
            queue_url: h.stack.queue_url("PartnerWebhookQueue").to_string(),
            base_delay_secs,
        },
    }
}

/// Lambda's event source mapping, in-process: batches until the queue shows nothing visible.
/// Delivers the outbox, then runs the partner webhook sender until its queue is empty.
pub(crate) async fn drain(h: &BillingHarness, sender: &Sender<DynamoStore>, max_batches: usize) -> usize {
    h.drain_outbox().await;
    let mut failures = 0;
    for _ in 0..max_batches {
        let queue = h.stack.queue_url("PartnerWebhookQueue");
        let polled = local_stack::esm::poll_once(&h.stack.sqs, queue, 0, |event| async {
            Ok(partner_webhooks::handle_batch(sender, event).await)
        })
        .await
        .unwrap();
        match polled {
            Some(resp) => failures += resp.batch_item_failures.len(),
            None => break,
        }
    }
    failures
}

/// Registers `url` for `events` as `user` and returns the secret.
async fn register(h: &BillingHarness, user: &str, url: &str, events: &[&str]) -> String {
    let resp = h.dash_call("PUT", "/referrals/webhook", Some(user), Some(json!({"url": url, "events": events}))).await;
    assert_eq!(resp.status(), 200, "{}", body_json(&resp));
    let v = body_json(&resp);
    let secret = v["secret"].as_str().expect("secret shown on creation").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

fn of_type(got: &[Received], kind: &str) -> Vec<Received> {
    got.iter().filter(|r| r.body["type"] == kind).cloned().collect()
}

#[tokio::test]
async fn bonus_lifecycle_reaches_the_partner_signed_and_to_the_cent() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    let secret = register(&h, "alice", &rx.url, &ALL_EVENTS).await;
    rx.set_secret(&secret);
    let profile = h.stack.item("USER#alice", "PROFILE").await.unwrap();
    assert!(profile.contains_key("webhook_events"), "subscription mirrored onto the profile");
    assert!(profile.contains_key("code"), "the profile's other attributes are untouched");

    // 12.34 × 5 % = 0.617 → 0.62.
    assert_eq!(h.topup("pw1", "bob", "12.34").await.status(), 200);
    let row = h.bonus("pw1").await.unwrap();
    assert_eq!(row.status, BonusStatus::Credited);
    assert_eq!(row.partner_events.len(), 3, "the three types subscribed");
    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);

    let got = rx.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|r| r.verified), "every delivery verifies with the registration secret");
    let payment = PaymentId::parse("pw1").unwrap();
    // Event ids name the bonus version the event describes: 1 created, 2 credited.
    for (kind, ty, version) in
        [("bonus.created", PartnerEventType::BonusCreated, 1), ("bonus.credited", PartnerEventType::BonusCredited, 2)]
    {
        let r = &of_type(&got, kind)[0];
        assert_eq!(r.body["id"], event_id(&payment, ty, version));
        assert!(r.body["created"].as_i64().unwrap() > 1_700_000_000);
        let bonus = &r.body["data"]["bonus"];
        assert_eq!(bonus["payment_id"], "pw1");
        assert_eq!(bonus["topup_amount"], "12.34");
        assert_eq!(bonus["rate"], "0.05");
        assert_eq!(bonus["bonus_amount"], "0.62");
        assert_eq!(bonus["currency"], "USD");
        assert!(!String::from_utf8_lossy(&r.raw).contains("bob"), "the referred user is not identified");
        assert!(r.signature.starts_with("t=") && r.signature.contains(",v1="));
    }
    let credited = &of_type(&got, "bonus.credited")[0].body;
    assert_eq!(credited["data"]["bonus"]["status"], "credited");
    assert_eq!(credited["data"]["bonus"]["credited_at"], json!(row.credited_at));

    // Refund → bonus.reversed.
    assert_eq!(h.refund("pw1", "bob", "12.34").await.status(), 200);
    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);
    let reversed = of_type(&rx.got(), "bonus.reversed");
    assert_eq!(reversed.len(), 1);
    assert!(reversed[0].verified);
    // Version 3: the refund (the debit back, version 4, changes no status).
    assert_eq!(reversed[0].body["id"], event_id(&payment, PartnerEventType::BonusReversed, 3));
    assert_eq!(reversed[0].body["data"]["bonus"]["status"], "reversed");
    assert_eq!(reversed[0].body["data"]["bonus"]["bonus_amount"], "0.62");
    assert_eq!(reversed[0].body["data"]["bonus"]["reason"], "refunded");

    // The delivery log: three successful attempts, newest first.
    let resp = h.dash_call("GET", "/referrals/webhook/deliveries", Some("alice"), None).await;
    assert_eq!(resp.status(), 200);
    let items = body_json(&resp)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["type"], "bonus.reversed");
    assert!(items.iter().all(|i| i["delivered"] == true && i["status_code"] == 200 && i["attempt"] == 1));
    let rows: Vec<_> =
        h.stack.all_items().await.into_iter().filter(|i| text(i, "SK").starts_with("WEBHOOK#DELIVERY#")).collect();
    assert_eq!(rows.len(), 3);
    let now = adapters::clock::now().unix_timestamp();
    for row in &rows {
        let ttl = integration_tests::stack::num(row, "expires_at");
        assert!((ttl - (now + 30 * 86_400)).abs() < 120, "30-day TTL, got {ttl}");
    }
    // The KPI query stays bounded: webhook items sort after STATS.
    let kpis = body_json(&h.dash_call("GET", "/referrals/kpis", Some("alice"), None).await);
    assert_eq!(kpis["total_earned"], "0.00");
}

#[tokio::test]
async fn a_failed_attempt_is_retried_after_its_backoff_and_both_attempts_are_logged() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    rx.set_secret(&register(&h, "alice", &rx.url, &["bonus.credited"]).await);
    rx.script(&[500]);
    h.topup("pw2", "bob", "50.00").await;

    // 1 s backoff: the 500 puts the message back for 1 s (the queue default would be 90 s).
    let s = sender(&h, 1);
    assert_eq!(drain(&h, &s, 1).await, 1, "the failed attempt is reported in batchItemFailures");
    assert_eq!(rx.got().len(), 1);
    assert_eq!(drain(&h, &s, 1).await, 0, "invisible during the backoff");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while rx.got().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "message did not come back after its backoff");
        tokio::time::sleep(Duration::from_millis(200)).await;
        drain(&h, &s, 1).await;
    }
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.verified));
    assert_eq!(got[0].body["id"], got[1].body["id"], "same event id on every attempt");

    let items = body_json(&h.dash_call("GET", "/referrals/webhook/deliveries", Some("alice"), None).await)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0]["attempt"].clone(), items[0]["status_code"].clone(), items[0]["delivered"].clone()),
        (json!(2), json!(200), json!(true))
    );
    assert_eq!(
        (items[1]["attempt"].clone(), items[1]["status_code"].clone(), items[1]["delivered"].clone()),
        (json!(1), json!(500), json!(false))
    );
    assert!(h.drain_queue("PartnerWebhookQueue").await.is_empty());
    assert!(h.drain_queue("PartnerWebhookDLQ").await.is_empty());
}

#[tokio::test]
async fn events_survive_an_unreachable_partner_queue_through_the_outbox() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    rx.set_secret(&register(&h, "alice", &rx.url, &ALL_EVENTS).await);
    // The money moves while SQS is unreachable for the dispatcher: every event stays in the
    // outbox (the stream re-delivers the batch from its first failed record).
    h.topup("pw_out1", "bob", "40.00").await;
    h.topup("pw_out2", "bob", "60.00").await;
    h.refund("pw_out2", "bob", "60.00").await;
    let real = h.stack.queue_url("PartnerWebhookQueue");
    let broken = adapters::billing::SqsEventQueue::new(
        h.stack.sqs.clone(),
        format!("{}/no-such-queue", &real[..real.rfind('/').unwrap()]),
    );
    assert_eq!(h.drain_outbox_to(&h.retry, &broken).await, 0, "nothing could be sent");
    assert!(h.drain_queue("PartnerWebhookQueue").await.is_empty());
    // SQS is back: the same records are delivered, each event exactly once to the partner.
    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);
    let got = rx.got();
    let mut kinds: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.body["data"]["bonus"]["payment_id"].as_str().unwrap().to_string(),
                r.body["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("pw_out1".to_string(), "bonus.created".to_string()),
            ("pw_out1".to_string(), "bonus.credited".to_string()),
            ("pw_out2".to_string(), "bonus.created".to_string()),
            ("pw_out2".to_string(), "bonus.credited".to_string()),
            ("pw_out2".to_string(), "bonus.reversed".to_string()),
        ]
    );
    assert!(got.iter().all(|r| r.verified));
    // Delivering the stream again changes nothing (nothing new; ids are per change).
    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);
    assert_eq!(rx.got().len(), 5);
}

#[tokio::test]
async fn deleting_the_endpoint_drops_queued_events() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    rx.set_secret(&register(&h, "alice", &rx.url, &ALL_EVENTS).await);
    h.topup("pw3", "bob", "20.00").await;

    let resp = h.dash_call("DELETE", "/referrals/webhook", Some("alice"), None).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(h.dash_call("DELETE", "/referrals/webhook", Some("alice"), None).await.status(), 204, "idempotent");
    assert_eq!(h.dash_call("GET", "/referrals/webhook", Some("alice"), None).await.status(), 404);
    assert!(h.stack.item("USER#alice", "WEBHOOK").await.is_none());
    assert!(!h.stack.item("USER#alice", "PROFILE").await.unwrap().contains_key("webhook_events"));

    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0, "dropped, not retried");
    assert!(rx.got().is_empty());
    assert!(h.drain_queue("PartnerWebhookQueue").await.is_empty());
    assert!(h.drain_queue("PartnerWebhookDLQ").await.is_empty());

    // Later bonuses of the unsubscribed referrer enqueue nothing.
    h.topup("pw3b", "bob", "20.00").await;
    assert!(h.bonus("pw3b").await.unwrap().partner_events.is_empty());
    assert!(h.drain_queue("PartnerWebhookQueue").await.is_empty());
}

#[tokio::test]
async fn only_subscribed_referrers_and_types_are_enqueued() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    h.refer("carol", "dave").await;
    rx.set_secret(&register(&h, "carol", &rx.url, &["bonus.credited", "bonus.reversed"]).await);

    // alice never subscribed: no message at all.
    h.topup("pw4", "bob", "30.00").await;
    assert!(h.bonus("pw4").await.unwrap().partner_events.is_empty());
    // carol subscribed to credited/reversed only: bonus.created is not even enqueued.
    h.topup("pw5", "dave", "30.00").await;
    h.drain_outbox().await;
    let bodies = h.drain_queue("PartnerWebhookQueue").await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let msg: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(msg["type"], "bonus.credited");
    assert_eq!(msg["referrer_id"], "carol");
    assert_eq!(msg["payment_id"], "pw5");

    // An admin rejection of a held bonus is a reversal too.
    h.refer_from("carol", "puppet", REFERRER_IP).await; // same IP → held
    h.topup("pw6", "puppet", "40.00").await;
    assert_eq!(h.bonus("pw6").await.unwrap().status, BonusStatus::Pending);
    let admin = token("ops", Some("admin"), 600);
    let resp = h.admin_call("POST", "/admin/bonuses/pw6/reject", Some(&admin), Some(json!({"reason": "fraud"}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);
    let got = rx.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].body["type"], "bonus.reversed");
    assert_eq!(got[0].body["data"]["bonus"]["reason"], "fraud");
    assert!(got[0].verified);
}

#[tokio::test]
async fn unsafe_or_malformed_registrations_are_refused_and_write_nothing() {
    let h = BillingHarness::new().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"url": "http://partner.example.com/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "http://10.0.0.7:8080/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://192.168.1.20/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://169.254.169.254/latest/meta-data", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://localhost/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://[::1]/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://user:pw@partner.example.com/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "http://user@127.0.0.1:9/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "https://partner.example.com:8443/hook", "events": ALL_EVENTS}), "invalid_url"),
        (json!({"url": "not a url", "events": ALL_EVENTS}), "invalid_url"),
        (
            json!({"url": format!("https://partner.example.com/{}", "a".repeat(2100)), "events": ALL_EVENTS}),
            "invalid_url",
        ),
        (json!({"url": "https://partner.example.com/hook", "events": []}), "invalid_events"),
        (json!({"url": "https://partner.example.com/hook", "events": ["payout.sent"]}), "invalid_events"),
        (json!({"url": "https://partner.example.com/hook"}), "invalid_body"),
        (json!({"url": "https://partner.example.com/hook", "events": ALL_EVENTS, "secret": "mine"}), "invalid_body"),
    ];
    for (body, code) in cases {
        let resp = h.dash_call("PUT", "/referrals/webhook", Some("alice"), Some(body.clone())).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(body_json(&resp)["error"]["code"], code, "{body}");
    }
    let resp = h
        .dash_call(
            "PUT",
            "/referrals/webhook",
            None,
            Some(json!({"url": "https://partner.example.com/h", "events": ALL_EVENTS})),
        )
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(h.dash_call("PATCH", "/referrals/webhook", Some("alice"), None).await.status(), 405);
    assert_eq!(h.dash_call("POST", "/referrals/webhook/rotate-secret", Some("alice"), None).await.status(), 404);
    assert!(h.stack.item("USER#alice", "WEBHOOK").await.is_none());
    assert!(h.stack.item("USER#alice", "PROFILE").await.is_none(), "nothing written");

    // A public https endpoint is fine in production rules too.
    let resp = h
        .dash_call(
            "PUT",
            "/referrals/webhook",
            Some("alice"),
            Some(json!({"url": "https://partner.example.com/hook", "events": ALL_EVENTS})),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn rotating_the_secret_retires_the_old_one() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    let old = register(&h, "alice", &rx.url, &["bonus.credited"]).await;

    // GET and a later PUT never show (or change) the secret.
    let v = body_json(&h.dash_call("GET", "/referrals/webhook", Some("alice"), None).await);
    assert_eq!(v["url"], rx.url);
    assert!(v.get("secret").is_none(), "{v}");
    let resp = h
        .dash_call("PUT", "/referrals/webhook", Some("alice"), Some(json!({"url": rx.url, "events": ALL_EVENTS})))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(body_json(&resp).get("secret").is_none());
    assert_eq!(body_json(&resp)["events"], json!(ALL_EVENTS));

    let resp = h.dash_call("POST", "/referrals/webhook/rotate-secret", Some("alice"), None).await;
    assert_eq!(resp.status(), 200);
    let new = body_json(&resp)["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);

    // The partner still verifies with the old secret: deliveries fail verification.
    rx.set_secret(&old);
    h.topup("pw7", "bob", "10.00").await;
    drain(&h, &sender(&h, 0), 1).await;
    let got = rx.got();
    assert!(!got.is_empty());
    let now = adapters::clock::now().unix_timestamp();
    for r in &got {
        assert!(!r.verified);
        assert_eq!(
            signature::verify(Some(&r.signature), &r.raw, std::slice::from_ref(&old), now, 300),
            Err(signature::SignatureError::Mismatch)
        );
        assert_eq!(signature::verify(Some(&r.signature), &r.raw, std::slice::from_ref(&new), now, 300), Ok(()));
    }
    // With the new secret the retry goes through.
    rx.set_secret(&new);
    drain(&h, &sender(&h, 0), 10).await;
    assert!(rx.got().iter().rev().take(2).all(|r| r.verified));
    let items = body_json(&h.dash_call("GET", "/referrals/webhook/deliveries", Some("alice"), None).await)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(items.iter().any(|i| i["status_code"] == 401));
    assert_eq!(items.iter().filter(|i| i["delivered"] == true).count(), 2, "created + credited");
}

#[tokio::test]
async fn the_delivery_log_pages_and_refuses_crafted_cursors() {
    let h = BillingHarness::new().await;
    let rx = Receiver::start().await;
    h.refer("alice", "bob").await;
    rx.set_secret(&register(&h, "alice", &rx.url, &ALL_EVENTS).await);
    h.topup("pw8", "bob", "10.00").await;
    h.refund("pw8", "bob", "10.00").await;
    drain(&h, &sender(&h, 0), 10).await;

    let first = body_json(&h.dash_call("GET", "/referrals/webhook/deliveries?limit=2", Some("alice"), None).await);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("more pages").to_string();
    let uri = format!("/referrals/webhook/deliveries?limit=2&cursor={cursor}");
    let second = body_json(&h.dash_call("GET", &uri, Some("alice"), None).await);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    let mut ids: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ALL_EVENTS);

    // Someone else's page, a non-delivery key in my partition, extra keys, garbage.
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for crafted in [
        enc(json!({"PK": "USER#mallory", "SK": "WEBHOOK#DELIVERY#2026"})),
        enc(json!({"PK": "USER#alice", "SK": "PROFILE"})),
        enc(json!({"PK": "USER#alice", "SK": "WEBHOOK#DELIVERY#2026", "GSI2PK": "x"})),
        "%%%".to_string(),
    ] {
        let resp =
            h.dash_call("GET", &format!("/referrals/webhook/deliveries?cursor={crafted}"), Some("alice"), None).await;
        assert_eq!(resp.status(), 400, "{crafted}");
        assert_eq!(body_json(&resp)["error"]["code"], "invalid_cursor");
    }
    assert_eq!(h.dash_call("GET", "/referrals/webhook/deliveries?limit=0", Some("alice"), None).await.status(), 400);
    // Another referrer sees none of alice's deliveries.
    let other = body_json(&h.dash_call("GET", "/referrals/webhook/deliveries", Some("mallory"), None).await);
    assert_eq!(other["items"], json!([]));
}
