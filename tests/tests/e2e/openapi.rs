//! The OpenAPI 3.1 document (`infra/openapi.yaml`, served at `/openapi.json`) checked
//! against real responses: every documented operation is called through its real handler
//! and its JSON body must match the documented schema for that status.

use std::collections::BTreeSet;

use integration_tests::billing::{token, BillingHarness, REFERRER_IP};
use integration_tests::body_json;
use serde_json::{json, Value};

fn document() -> Value {
    let yaml = std::fs::read_to_string(integration_tests::workspace_root().join("infra/openapi.yaml")).unwrap();
    serde_yaml::from_str(&yaml).unwrap()
}

struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
}

impl Checker {
    /// Asserts that `body` matches `#/components/schemas/<name>` (payloads we send, not answer).
    fn check_schema(&self, name: &str, body: &Value) {
        let mut root = json!({ "$ref": format!("#/components/schemas/{name}") });
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&root).expect("schema compiles");
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\nbody: {body}");
    }

    /// Asserts that `body` (answered with `status`) matches the documented response.
    fn check(&mut self, path: &str, method: &str, status: u16, body: Option<&Value>) {
        self.seen.insert((path.to_string(), method.to_string()));
        let responses = &self.doc["paths"][path][method]["responses"];
        assert!(responses.is_object(), "{method} {path} is not documented");
        let mut response = responses[status.to_string()].clone();
        assert!(!response.is_null(), "{method} {path} answered {status}, which is not documented");
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/components/responses/");
            response = self.doc["components"]["responses"][name].clone();
        }
        let Some(schema) = response.pointer("/content/application~1json/schema") else { return };
        let Some(body) = body else { panic!("{method} {path} {status} documents a JSON body") };
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&root).expect("schema compiles");
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\nbody: {body}");
    }
}

/// Stripe: a real event, an ignored one, a refused signature.
async fn stripe_operations(h: &BillingHarness, c: &mut Checker) {
    let stripe_event = |id: &str, kind: &str, object: serde_json::Value| {
        json!({"id": id, "object": "event", "api_version": "2025-10-29.clover", "created": 1_764_000_000,
               "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
               "type": kind, "data": {"object": object}})
    };
    let pi = json!({"id": "pi_oa5", "object": "payment_intent", "amount": 2000, "amount_received": 2000,
                    "currency": "usd", "metadata": {"user_id": "bob"}, "status": "succeeded"});
    let resp = h.stripe(&stripe_event("evt_oa5", "payment_intent.succeeded", pi.clone())).await;
    c.check("/webhooks/stripe", "post", 200, Some(&body_json(&resp)));
    let resp =
        h.stripe(&stripe_event("evt_oa6", "customer.created", json!({"id": "cus_1", "object": "customer"}))).await;
    c.check("/webhooks/stripe", "post", 200, Some(&body_json(&resp)));
    let unsigned =
        integration_tests::requests::request("POST", "/webhooks/stripe", &[], lambda_http::Body::Text("{}".into()));
    let resp = webhook::handle(&h.billing, &h.webhook_cfg, &unsigned).await;
    c.check("/webhooks/stripe", "post", resp.status().as_u16(), Some(&body_json(&resp)));
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let mut c = Checker { doc: document(), seen: BTreeSet::new() };
    let h = BillingHarness::new().await;

    // Signup and webhook (signed).
    let resp = h.signup("alice", None, REFERRER_IP).await;
    c.check("/signups", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    h.refer("alice", "bob").await;
    let resp = h.signup("bob", Some("K7M2XI"), "203.0.113.9").await;
    c.check("/signups", "post", 200, Some(&body_json(&resp)));
    for (payment, amount) in [("oa1", "50.00"), ("oa1", "50.00"), ("oa2", "4.00")] {
        let resp = h.topup(payment, "bob", amount).await;
        c.check("/webhooks/payments", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    let resp = h.refund("oa1", "bob", "50.00").await;
    c.check("/webhooks/payments", "post", 200, Some(&body_json(&resp)));
    let resp = h.deliver_raw(&BillingHarness::event_body("oa3", "bob", "5.00", "topup.exploded")).await;
    c.check("/webhooks/payments", "post", 400, Some(&body_json(&resp)));
    for kind in ["topup.disputed", "topup.dispute_won"] {
        let resp = h.deliver_raw(&BillingHarness::event_body("oa4", "bob", "5.00", kind)).await;
        c.check("/webhooks/payments", "post", 200, Some(&body_json(&resp)));
    }

    // Stripe (boxed: this test's future is large enough already).
    Box::pin(stripe_operations(&h, &mut c)).await;

    // Redirect.
    let code =
        body_json(&h.dash_get("/referrals/link", Some("alice"), &[]).await)["code"].as_str().unwrap().to_string();
    let cfg = redirect::RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").unwrap(),
        cookie_domain: None,
        touch: redirect::Touch::First,
    };
    let resp = redirect::handle(h.store(), &cfg, &integration_tests::get(&format!("/?ref={code}"), &[])).await;
    c.check("/", "get", resp.status().as_u16(), None);

    // Dashboard.
    for path in ["/referrals/link", "/referrals/kpis", "/referrals/history"] {
        let resp = h.dash_get(path, Some("alice"), &[]).await;
        c.check(path, "get", resp.status().as_u16(), Some(&body_json(&resp)));
        let resp = h.dash_get(path, None, &[]).await;
        c.check(path, "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    for path in ["/referrals/qr.png", "/referrals/qr.svg"] {
        let resp = h.dash_get(path, Some("alice"), &[]).await;
        c.check(path, "get", resp.status().as_u16(), None);
    }
    // The chart and the filtered history / CSV export.
    for uri in ["/referrals/stats", "/referrals/stats?granularity=month", "/referrals/stats?granularity=week"] {
        let resp = h.dash_get(uri, Some("alice"), &[]).await;
        c.check("/referrals/stats", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    let resp = h.dash_get("/referrals/stats", None, &[]).await;
    c.check("/referrals/stats", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    for uri in ["/referrals/history?status=credited&from=2020-01-01", "/referrals/history?status=nope"] {
        let resp = h.dash_get(uri, Some("alice"), &[]).await;
        c.check("/referrals/history", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    let resp = h.dash_get("/referrals/history.csv?status=credited", Some("alice"), &[]).await;
    assert_eq!(resp.status(), 200);
    c.check("/referrals/history.csv", "get", 200, None);
    for (uri, user) in [("/referrals/history.csv?from=tomorrow", Some("alice")), ("/referrals/history.csv", None)] {
        let resp = h.dash_get(uri, user, &[]).await;
        c.check("/referrals/history.csv", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    // Partner API: keys (session token) and campaigns (session or a key), each status seen.
    let alice = format!("Bearer {}", token("alice", None, 600));
    let api = h.dashboard();
    let as_alice = [("authorization", alice.as_str())];
    let new_key = json!({"name": "partner", "scopes": ["read"]});
    let resp = h.dash_call_with(&api, "POST", "/referrals/api-keys", &as_alice, Some(new_key.clone())).await;
    c.check("/referrals/api-keys", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    let created = body_json(&resp);
    let key = format!("Bearer {}", created["key"].as_str().unwrap());
    let as_key = [("authorization", key.as_str())];
    let resp = h.dash_call_with(&api, "POST", "/referrals/api-keys", &as_alice, Some(json!({"name": ""}))).await;
    c.check("/referrals/api-keys", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    let resp = h.dash_call_with(&api, "POST", "/referrals/api-keys", &as_key, Some(new_key)).await;
    c.check("/referrals/api-keys", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    for headers in [&as_alice[..], &as_key[..], &[]] {
        let resp = h.dash_call_with(&api, "GET", "/referrals/api-keys", headers, None).await;
        c.check("/referrals/api-keys", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    for path in ["/referrals/link", "/referrals/kpis", "/referrals/history"] {
        let resp = h.dash_call_with(&api, "GET", path, &as_key, None).await;
        c.check(path, "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    let campaign = json!({"campaign": "spring-sale"});
    for (headers, body) in [
        (&as_alice[..], campaign.clone()),
        (&as_alice[..], campaign.clone()),
        (&as_alice[..], json!({"campaign": "Bad Name"})),
        (&as_key[..], campaign.clone()),
    ] {
        let resp = h.dash_call_with(&api, "POST", "/referrals/campaigns", headers, Some(body)).await;
        c.check("/referrals/campaigns", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    for headers in [&as_alice[..], &as_key[..]] {
        let resp = h.dash_call_with(&api, "GET", "/referrals/campaigns", headers, None).await;
        c.check("/referrals/campaigns", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    let revoke = format!("/referrals/api-keys/{}", created["key_id"].as_str().unwrap());
    let mallory = format!("Bearer {}", token("mallory", None, 600));
    let resp = h.dash_call_with(&api, "DELETE", &revoke, &[("authorization", &mallory)], None).await;
    c.check("/referrals/api-keys/{key_id}", "delete", resp.status().as_u16(), Some(&body_json(&resp)));
    let resp = h.dash_call_with(&api, "DELETE", &revoke, &as_key, None).await;
    c.check("/referrals/api-keys/{key_id}", "delete", resp.status().as_u16(), Some(&body_json(&resp)));
    let resp = h.dash_call_with(&api, "DELETE", &revoke, &as_alice, None).await;
    c.check("/referrals/api-keys/{key_id}", "delete", resp.status().as_u16(), None);
    let resp = h.dash_call_with(&api, "GET", "/referrals/kpis", &as_key, None).await;
    c.check("/referrals/kpis", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    let mut limited = h.dashboard();
    limited.cfg.api_key_rate_per_minute = 1;
    let created = body_json(
        &h.dash_call_with(
            &api,
            "POST",
            "/referrals/api-keys",
            &as_alice,
            Some(json!({"name": "n", "scopes": ["read"]})),
        )
        .await,
    );
    let key = format!("Bearer {}", created["key"].as_str().unwrap());
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let resp = h.dash_call_with(&limited, "GET", "/referrals/link", &[("authorization", &key)], None).await;
        statuses.push(resp.status().as_u16());
        c.check("/referrals/link", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    let resp = h.dash_get("/openapi.json", None, &[]).await;
    c.check("/openapi.json", "get", resp.status().as_u16(), None);
    assert_eq!(body_json(&resp), c.doc, "/openapi.json serves infra/openapi.yaml");

    // Partner webhooks: registration, rotation, the delivery log, and the payloads we send.
    {
        use crate::partner_webhooks::{drain, sender, Receiver};
        let rx = Receiver::start().await;
        let events = json!(["bonus.created", "bonus.credited", "bonus.reversed"]);
        type Call<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<Value>);
        let calls: Vec<Call> = vec![
            ("/referrals/webhook", "get", "/referrals/webhook", Some("alice"), None),
            ("/referrals/webhook", "put", "/referrals/webhook", None, Some(json!({"url": rx.url, "events": events}))),
            (
                "/referrals/webhook",
                "put",
                "/referrals/webhook",
                Some("alice"),
                Some(json!({"url": "http://10.0.0.1/", "events": events})),
            ),
            ("/referrals/webhook/rotate-secret", "post", "/referrals/webhook/rotate-secret", Some("alice"), None),
            (
                "/referrals/webhook",
                "put",
                "/referrals/webhook",
                Some("alice"),
                Some(json!({"url": rx.url, "events": events})),
            ),
            ("/referrals/webhook", "get", "/referrals/webhook", Some("alice"), None),
            ("/referrals/webhook", "get", "/referrals/webhook", None, None),
            ("/referrals/webhook/rotate-secret", "post", "/referrals/webhook/rotate-secret", Some("alice"), None),
            ("/referrals/webhook/rotate-secret", "post", "/referrals/webhook/rotate-secret", None, None),
        ];
        for (path, method, uri, user, body) in calls {
            let resp = h.dash_call(&method.to_uppercase(), uri, user, body).await;
            let value = body_json(&resp);
            c.check(path, method, resp.status().as_u16(), Some(&value));
            if let Some(secret) = value["secret"].as_str() {
                rx.set_secret(secret);
            }
        }
        h.topup("oa_pw", "bob", "20.00").await;
        h.refund("oa_pw", "bob", "20.00").await;
        assert_eq!(drain(&h, &sender(&h, 0), 10).await, 0);
        let got = rx.got();
        assert_eq!(got.len(), 3, "created, credited, reversed");
        for r in &got {
            assert!(r.verified);
            c.check_schema("PartnerEvent", &r.body);
        }
        for (uri, user) in [
            ("/referrals/webhook/deliveries?limit=2", Some("alice")),
            ("/referrals/webhook/deliveries?cursor=bogus", Some("alice")),
            ("/referrals/webhook/deliveries", None),
        ] {
            let resp = h.dash_call("GET", uri, user, None).await;
            c.check("/referrals/webhook/deliveries", "get", resp.status().as_u16(), Some(&body_json(&resp)));
        }
        let resp = h.dash_call("DELETE", "/referrals/webhook", None, None).await;
        c.check("/referrals/webhook", "delete", resp.status().as_u16(), Some(&body_json(&resp)));
        let resp = h.dash_call("DELETE", "/referrals/webhook", Some("alice"), None).await;
        c.check("/referrals/webhook", "delete", resp.status().as_u16(), None);
        let resp = h.dash_call("POST", "/referrals/webhook/rotate-secret", Some("alice"), None).await;
        c.check("/referrals/webhook/rotate-secret", "post", resp.status().as_u16(), Some(&body_json(&resp)));
    }

    // Admin: a held bonus to decide.
    h.refer_from("alice", "puppet", REFERRER_IP).await;
    h.topup("oa_held1", "puppet", "20.00").await;
    h.topup("oa_held2", "puppet", "30.00").await;
    h.topup("oa_held3", "puppet", "40.00").await;
    let admin = token("ops", Some("admin"), 600);
    let calls: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("/admin/bonuses", "get", "/admin/bonuses?status=pending".into(), None),
        ("/admin/bonuses/{payment_id}/approve", "post", "/admin/bonuses/oa_held1/approve".into(), None),
        ("/admin/bonuses/{payment_id}/approve", "post", "/admin/bonuses/oa_held1/approve".into(), None),
        (
            "/admin/bonuses/{payment_id}/reject",
            "post",
            "/admin/bonuses/oa_held2/reject".into(),
            Some(json!({"reason": "fraud"})),
        ),
        (
            "/admin/bonuses/bulk",
            "post",
            "/admin/bonuses/bulk".into(),
            Some(json!({"action": "approve", "payment_ids": ["oa_held3", "nope"]})),
        ),
        ("/admin/referrers/{user_id}/rate", "put", "/admin/referrers/alice/rate".into(), Some(json!({"rate": "0.07"}))),
        (
            "/admin/attributions/{user_id}",
            "post",
            "/admin/attributions/bob".into(),
            Some(json!({"referrer_id": "alice", "note": "same"})),
        ),
    ];
    for (path, method, uri, body) in calls {
        let resp = h.admin_call(&method.to_uppercase(), &uri, Some(&admin), body).await;
        c.check(path, method, resp.status().as_u16(), Some(&body_json(&resp)));
    }
    // Rate tiers: default, stored, refused, stale version, back to default.
    let tiers = json!({"tiers": [{"up_to": "1000.00", "rate": "0.05"}, {"up_to": null, "rate": "0.10"}]});
    let tier_calls: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("get", "/admin/rate-tiers".into(), None, 200),
        ("put", "/admin/rate-tiers".into(), Some(tiers.clone()), 200),
        ("get", "/admin/rate-tiers".into(), None, 200),
        ("put", "/admin/rate-tiers".into(), Some(json!({"tiers": [{"up_to": "5.00", "rate": "0.05"}]})), 400),
        ("put", "/admin/rate-tiers".into(), Some(json!({"tiers": tiers["tiers"], "expected_version": 7})), 409),
        ("delete", "/admin/rate-tiers?expected_version=x".into(), None, 400),
        ("delete", "/admin/rate-tiers?expected_version=7".into(), None, 409),
        ("delete", "/admin/rate-tiers?expected_version=1".into(), None, 200),
    ];
    for (method, uri, body, status) in tier_calls {
        let resp = h.admin_call(&method.to_uppercase(), &uri, Some(&admin), body).await;
        assert_eq!(resp.status().as_u16(), status, "{method} {uri}");
        c.check("/admin/rate-tiers", method, status, Some(&body_json(&resp)));
    }
    let resp = h.admin_call("GET", "/admin/rate-tiers", Some(&token("alice", None, 600)), None).await;
    c.check("/admin/rate-tiers", "get", resp.status().as_u16(), Some(&body_json(&resp)));

    let resp = h.admin_call("GET", "/admin/bonuses", Some(&token("alice", None, 600)), None).await;
    c.check("/admin/bonuses", "get", resp.status().as_u16(), Some(&body_json(&resp)));
    // The console's reads: one bonus, one referrer (found, unknown, not an admin).
    for (path, uri, who) in [
        ("/admin/bonuses/{payment_id}", "/admin/bonuses/oa_held1", Some(admin.clone())),
        ("/admin/bonuses/{payment_id}", "/admin/bonuses/nope", Some(admin.clone())),
        ("/admin/bonuses/{payment_id}", "/admin/bonuses/oa_held1", Some(token("alice", None, 600))),
        ("/admin/referrers/{user_id}", "/admin/referrers/alice", Some(admin.clone())),
        ("/admin/referrers/{user_id}", "/admin/referrers/puppet", Some(admin.clone())),
        ("/admin/referrers/{user_id}", "/admin/referrers/nobody", Some(admin.clone())),
        ("/admin/referrers/{user_id}", "/admin/referrers/alice?limit=0", Some(admin.clone())),
        ("/admin/referrers/{user_id}", "/admin/referrers/alice", None),
    ] {
        let resp = h.admin_call("GET", uri, who.as_deref(), None).await;
        c.check(path, "get", resp.status().as_u16(), Some(&body_json(&resp)));
    }

    // Leaderboard and public name (after the admin approvals, so alice has earnings on the board).
    for (method, uri, user, body) in [
        ("PUT", "/referrals/profile", Some("alice"), Some(json!({"public_name": "Alice A."}))),
        ("GET", "/referrals/leaderboard", Some("alice"), None),
        ("GET", "/referrals/leaderboard?period=all&limit=1", Some("bob"), None),
        ("PUT", "/referrals/profile", Some("alice"), Some(json!({"public_name": null}))),
        ("PUT", "/referrals/profile", Some("alice"), Some(json!({"public_name": "<b>"}))),
        ("PUT", "/referrals/profile", None, Some(json!({"public_name": "Alice A."}))),
        ("GET", "/referrals/leaderboard?period=year", Some("alice"), None),
        ("GET", "/referrals/leaderboard", None, None),
    ] {
        let resp = h.dash_call(method, uri, user, body).await;
        let path = uri.split('?').next().unwrap();
        let body = body_json(&resp);
        if path == "/referrals/leaderboard" && resp.status() == 200 {
            assert!(!body["items"].as_array().unwrap().is_empty(), "entries exercise the item schema: {body}");
        }
        c.check(path, &method.to_lowercase(), resp.status().as_u16(), Some(&body));
    }

    // Reconciliation findings: a manual adjustment with our prefix on alice's Wellflow account.
    h.tamper(fake_wellflow::LedgerEdit::Insert {
        account_id: "alice".into(),
        kind: fake_wellflow::Kind::Credit,
        amount: "1.00".into(),
        idempotency_key: Some("ref:auto:oa1#manual-1".into()),
        created_at: None,
    });
    let report = h.reconcile(referral_core::store::PassKind::Hourly).await;
    assert_eq!((report.new_findings, report.sightings), (1, 1), "only the manual adjustment: {report:?}");
    let finding = report.findings[0].clone();
    let resolve = format!("/admin/reconciliation/{finding}/resolve");
    let note = Some(json!({"note": "goodwill credit, ticket 12"}));
    let recon_calls: Vec<(&str, &str, String, Option<Value>, u16)> = vec![
        ("/admin/reconciliation", "get", "/admin/reconciliation".into(), None, 200),
        ("/admin/reconciliation", "get", "/admin/reconciliation?status=closed".into(), None, 400),
        ("/admin/reconciliation", "get", "/admin/reconciliation?cursor=bogus".into(), None, 400),
        ("/admin/reconciliation/{finding_id}/resolve", "post", resolve.clone(), Some(json!({"note": " "})), 400),
        (
            "/admin/reconciliation/{finding_id}/resolve",
            "post",
            "/admin/reconciliation/x/resolve".into(),
            note.clone(),
            400,
        ),
        (
            "/admin/reconciliation/{finding_id}/resolve",
            "post",
            "/admin/reconciliation/rf_000000000000000000000000/resolve".into(),
            note.clone(),
            404,
        ),
        ("/admin/reconciliation/{finding_id}/resolve", "post", resolve.clone(), note.clone(), 200),
        ("/admin/reconciliation/{finding_id}/resolve", "post", resolve, note, 409),
        ("/admin/reconciliation", "get", "/admin/reconciliation?status=resolved&limit=1".into(), None, 200),
    ];
    for (path, method, uri, body, status) in recon_calls {
        let resp = h.admin_call(&method.to_uppercase(), &uri, Some(&admin), body).await;
        let value = body_json(&resp);
        assert_eq!(resp.status().as_u16(), status, "{method} {uri}: {value}");
        if status == 200 && method == "get" {
            assert_eq!(value["items"].as_array().map(Vec::len), Some(1), "the item schema is exercised: {value}");
        }
        c.check(path, method, status, Some(&value));
    }
    for path in ["/admin/reconciliation", "/admin/reconciliation/{finding_id}/resolve"] {
        let uri = path.replace("{finding_id}", &finding);
        let method = if path.ends_with("resolve") { "post" } else { "get" };
        let resp = h.admin_call(&method.to_uppercase(), &uri, Some(&token("alice", None, 600)), None).await;
        c.check(path, method, resp.status().as_u16(), Some(&body_json(&resp)));
        let resp = h.admin_call(&method.to_uppercase(), &uri, None, None).await;
        c.check(path, method, resp.status().as_u16(), Some(&body_json(&resp)));
    }

    // Every documented operation was exercised.
    let documented: BTreeSet<(String, String)> = c.doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (p.clone(), m.clone())))
        .collect();
    assert_eq!(c.seen, documented);
}
