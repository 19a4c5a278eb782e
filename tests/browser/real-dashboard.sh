#!/usr/bin/env bash
# Runs the browser tests against the REAL dashboard and admin handlers: starts the Rust
# fixture (moto + fake Wellflow + data seeded through the real handlers, both functions served
# on one 127.0.0.1 port), passes its URLs, tokens and expected numbers to run.sh
# (REFERRALS_PAGE_URL / REFERRALS_EXPECT for referrals.test.mjs, PAGES_FIXTURE for
# pages.test.mjs and admin.test.mjs), stops the fixture afterwards.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cargo build --quiet -p integration-tests --bin dashboard-fixture
out="$(mktemp)"
# The fixture serves until its stdin closes: feed it from a fifo we hold open.
fifo="$(mktemp -u)"; mkfifo "$fifo"
target/debug/dashboard-fixture < "$fifo" > "$out" 2> "$out.err" &
fixture=$!
exec 3> "$fifo"
cleanup() { exec 3>&- || true; kill "$fixture" 2>/dev/null || true; wait "$fixture" 2>/dev/null || true; rm -f "$fifo" "$out" "$out.err"; }
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q '^REFERRALS_EXPECT=' "$out" && break; kill -0 "$fixture" 2>/dev/null || { cat "$out.err" >&2; exit 1; }; sleep 0.1; done
REFERRALS_PAGE_URL="$(sed -n 's/^REFERRALS_PAGE_URL=//p' "$out")"
REFERRALS_EXPECT="$(sed -n 's/^REFERRALS_EXPECT=//p' "$out")"
for _ in $(seq 1 600); do grep -q '^PAGES_FIXTURE=' "$out" && break; sleep 0.1; done
PAGES_FIXTURE="$(sed -n 's/^PAGES_FIXTURE=//p' "$out")"
[ -n "$PAGES_FIXTURE" ] || { echo "fixture printed no PAGES_FIXTURE" >&2; cat "$out.err" >&2; exit 1; }
[ -n "$REFERRALS_PAGE_URL" ] || { echo "fixture did not start" >&2; cat "$out.err" >&2; exit 1; }
export REFERRALS_PAGE_URL REFERRALS_EXPECT PAGES_FIXTURE
bash tests/browser/run.sh
