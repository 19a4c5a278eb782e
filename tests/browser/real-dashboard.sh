#!/usr/bin/env bash
# Runs the Referrals page test against the REAL dashboard handler: starts the Rust fixture
# (moto + fake Wellflow + history seeded through the real handlers, dashboard served on
# 127.0.0.1), passes its URL and expected numbers to run.sh, stops the fixture afterwards.
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
[ -n "$REFERRALS_PAGE_URL" ] || { echo "fixture did not start" >&2; cat "$out.err" >&2; exit 1; }
export REFERRALS_PAGE_URL REFERRALS_EXPECT
bash tests/browser/run.sh
