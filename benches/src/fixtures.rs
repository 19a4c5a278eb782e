//! Fixed inputs of the hot-path benchmarks: the redirect request and config, a signed
//! payment-provider event, a top-up context and a referrer's KPIs. Realistic sizes (the
//! README's examples), so the figures are those of production requests.

use adapters::domain::{TopupContext, Usd};
use adapters::store::ReferrerKpis;
use lambda_http::{Body, Request};
use redirect::{RedirectConfig, Touch};
use rust_decimal::Decimal;

/// A referral link with marketing parameters around the code.
pub const REDIRECT_URI: &str = "/pricing?utm_source=x&ref=K7M2XQ&b=2";

/// The signing secret of the webhook fixtures (32 bytes, like the provider's).
pub const WEBHOOK_SECRET: &str = "whsec_bench_0123456789abcdef0123";

/// Unix seconds the fixture event is signed at.
pub const SIGNED_AT: i64 = 1_764_000_000;

/// A provider event as it arrives (README example, 139 bytes).
pub const WEBHOOK_BODY: &[u8] = br#"{"payment_id":"pay_1","user_id":"friend-1","amount":"50.00","currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}"#;

/// First-touch config on `https://www.example.com`, no cookie domain (the production default).
pub fn redirect_config() -> RedirectConfig {
    RedirectConfig {
        site_origin: url::Url::parse("https://www.example.com").expect("valid origin"),
        cookie_domain: None,
        touch: Touch::First,
    }
}

/// `GET /pricing?utm_source=x&ref=K7M2XQ&b=2`, no cookie: the code is counted and set.
pub fn redirect_request() -> Request {
    lambda_http::http::Request::builder().uri(REDIRECT_URI).body(Body::Empty).expect("valid request")
}

/// The `X-Signature` header value for [`WEBHOOK_BODY`] at [`SIGNED_AT`].
pub fn webhook_signature() -> String {
    adapters::domain::signature::sign(WEBHOOK_SECRET, SIGNED_AT, WEBHOOK_BODY)
}

/// Earlier first-time top-ups of the referrer: four inside the 24 h window, two older.
pub const RECENT_FIRST_TOPUPS: [i64; 6] =
    [SIGNED_AT - 200_000, SIGNED_AT - 90_000, SIGNED_AT - 80_000, SIGNED_AT - 3_600, SIGNED_AT - 600, SIGNED_AT - 60];

/// A referred user's first $50.00 top-up with a busy referrer (the velocity rule is evaluated).
pub fn topup_context() -> TopupContext<'static> {
    TopupContext {
        amount: Usd::cents(5_000),
        rate_override: None,
        tiered_rate: None,
        is_first_topup: true,
        recent_first_topups: &RECENT_FIRST_TOPUPS,
        same_ip: false,
        now: SIGNED_AT,
    }
}

/// An active referrer's dashboard numbers.
pub fn referrer_kpis() -> ReferrerKpis {
    ReferrerKpis {
        code: Some(adapters::domain::RefCode::parse("K7M2XQ").expect("valid code")),
        total_earned: Decimal::new(1_234_567, 2),
        earned_in_window: Decimal::new(45_050, 2),
        signups: 318,
        active_referred_users: 42,
        clicks: 12_873,
        items_read: 31,
    }
}
