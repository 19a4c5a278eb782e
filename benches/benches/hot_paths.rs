//! Criterion benchmarks of the in-process hot paths (no network): the redirect handler,
//! webhook signature + body parsing, the bonus decision and the dashboard's KPI body. The only
//! I/O is the redirect's own EMF metric line per click, written to stdout — a pipe, as in
//! Lambda (see `benches::stdout_filter`). Each input is checked once before it is measured, so a broken
//! fixture fails loudly instead of benchmarking an error path.
//!
//! `cargo bench -p benches --bench hot_paths` (infra/bench.sh passes short warm-up and
//! measurement times); results land in `$CRITERION_HOME` (default `target/criterion`).

use std::hint::black_box;

use adapters::domain::signature::{self, DEFAULT_TOLERANCE_SECS};
use adapters::domain::{BonusPolicy, Decision};
use adapters::metrics;
use benches::stdout_filter::StdoutFilter;
use benches::{fixtures, CountingCodes};
use criterion::{criterion_group, criterion_main, Criterion};
use lambda_http::http::StatusCode;

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// The redirect function's router (what main runs) from request to response, converted as
/// lambda_http converts it, with an in-memory store.
fn redirect(c: &mut Criterion) {
    // The handler prints one EMF metric line per counted click: keep it off the report.
    let filter = StdoutFilter::install().expect("stdout filter");
    let rt = current_thread_runtime();
    let store = CountingCodes::default();
    let cfg = fixtures::redirect_config();
    let req = fixtures::redirect_request();

    let router = redirect::router(std::sync::Arc::new(redirect::Redirect { store: store.clone(), cfg: cfg.clone() }));
    let handle = |req| adapters::http::call(router.clone(), req);
    let resp = rt.block_on(handle(&req));
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()["location"], "https://www.example.com/pricing?utm_source=x&b=2");
    assert!(resp.headers().contains_key("set-cookie"), "the counted code must get its cookie");
    assert_eq!(store.clicks(), 1);

    let mut group = c.benchmark_group("redirect");
    // As in production: the handler, including its metric line written to the stdout pipe.
    group.bench_function("handle", |b| b.to_async(&rt).iter(|| handle(black_box(&req))));
    // The same with the production log subscriber (JSON, one line per redirect) writing to a
    // sink: the formatting cost every real click pays on top of the handler.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(std::io::sink)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber); // thread-local; rt is current-thread
    group.bench_function("handle+json_log", |b| b.to_async(&rt).iter(|| handle(black_box(&req))));
    drop(guard);
    // The metric line alone (built, not printed): part of `handle` since clicks are metered.
    group.bench_function("emf_line", |b| {
        b.iter(|| {
            metrics::emf_line(
                black_box(&[("Clicks", 1.0, metrics::Unit::Count)]),
                black_box(&[("code", "K7M2XQ")]),
                black_box(1_795_597_200_000),
            )
        })
    });
    // The parts of `handle`, to see where its time goes.
    group.bench_function("plan", |b| {
        b.iter(|| {
            redirect::plan(
                black_box(&cfg.site_origin),
                black_box(req.uri().path()),
                black_box(req.uri().query()),
                std::iter::empty(),
            )
        })
    });
    let code = adapters::domain::RefCode::parse("K7M2XQ").expect("valid code");
    group.bench_function("referral_cookie", |b| b.iter(|| redirect::referral_cookie(black_box(code), None)));
    let line = metrics::emf_line(&[("Clicks", 1.0, metrics::Unit::Count)], &[("code", "K7M2XQ")], 1_795_597_200_000);
    group.bench_function("stdout_line", |b| b.iter(|| println!("{}", black_box(&line))));
    group.finish();
    drop(filter);
}

/// Signature verification on the raw body, then parsing and validation of the event.
fn webhook(c: &mut Criterion) {
    let body = fixtures::WEBHOOK_BODY;
    let header = fixtures::webhook_signature();
    let secrets = vec![fixtures::WEBHOOK_SECRET.to_string()];
    let now = fixtures::SIGNED_AT + 5;

    assert_eq!(signature::verify(Some(&header), body, &secrets, now, DEFAULT_TOLERANCE_SECS), Ok(()));
    assert!(
        matches!(webhook::parse(body), Ok(e) if matches!(e.kind, referral_core::payment::PaymentEventKind::Succeeded { .. }))
    );

    let mut group = c.benchmark_group("webhook");
    group.bench_function("sign", |b| {
        b.iter(|| signature::sign(black_box(fixtures::WEBHOOK_SECRET), black_box(fixtures::SIGNED_AT), black_box(body)))
    });
    group.bench_function("verify", |b| {
        b.iter(|| signature::verify(Some(black_box(&header)), black_box(body), &secrets, now, DEFAULT_TOLERANCE_SECS))
    });
    group.bench_function("parse", |b| b.iter(|| webhook::parse(black_box(body))));
    group.bench_function("verify+parse", |b| {
        b.iter(|| {
            signature::verify(Some(black_box(&header)), black_box(body), &secrets, now, DEFAULT_TOLERANCE_SECS)
                .expect("valid signature");
            webhook::parse(black_box(body))
        })
    });
    group.finish();
}

/// The bonus rules for a first top-up of a busy referrer (velocity window evaluated).
fn bonus(c: &mut Criterion) {
    let policy = BonusPolicy::default();
    let ctx = fixtures::topup_context();
    assert!(matches!(policy.decide(&ctx), Decision::Credit { .. }));

    let mut group = c.benchmark_group("bonus");
    group.bench_function("decide", |b| b.iter(|| black_box(&policy).decide(black_box(&ctx))));
    group.finish();
}

/// The dashboard's KPI response body: the JSON value, and the value serialised.
fn dashboard(c: &mut Criterion) {
    let kpis = fixtures::referrer_kpis();
    let body = dashboard::views::kpis_body(&kpis);
    assert_eq!(body["clicks"], 12_873);

    let mut group = c.benchmark_group("dashboard");
    group.bench_function("kpis_body", |b| b.iter(|| dashboard::views::kpis_body(black_box(&kpis))));
    group.bench_function("kpis_body+to_vec", |b| {
        b.iter(|| serde_json::to_vec(&dashboard::views::kpis_body(black_box(&kpis))).expect("serialisable"))
    });
    group.finish();
}

criterion_group!(hot_paths, redirect, webhook, bonus, dashboard);
criterion_main!(hot_paths);
