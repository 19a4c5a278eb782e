#!/usr/bin/env bash
# Browser tests for infra/web (Referrals page + ref.js attribution snippet).
#
#   bash tests/browser/run.sh                 # against the built-in stub server
#   REFERRALS_PAGE_URL='https://host/referrals#token=<jwt>' \
#   REFERRALS_EXPECT='{"total_earned":"$67.75","earned_last_30_days":"$17.75","signups":"3","active_referred_users":"2","clicks":"41"}' \
#     bash tests/browser/run.sh               # page test against a real server
#
# Installs Debian's chromium when /usr/bin/chromium is missing (Playwright's own browser
# download is not used), installs playwright-core from the lockfile, runs node --test.
# Exits non-zero when anything fails. Screenshots go to tests/artifacts/ (git-ignored).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "run.sh: $CHROMIUM missing, installing Debian's chromium" >&2
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

mkdir -p ../artifacts
# pages.test.mjs, admin.test.mjs and stub-contract.test.mjs need the real-handler fixture (PAGES_FIXTURE, set by
# real-dashboard.sh); without it they are skipped.
exec node --test --test-concurrency=2 --test-timeout=120000 referrals.test.mjs ref-snippet.test.mjs pages.test.mjs admin.test.mjs stub-contract.test.mjs
