#!/usr/bin/env bash
# `make dev`: the whole system on 127.0.0.1 — moto server (DynamoDB, SQS, Secrets Manager),
# the table, queues and secrets from template.yaml, the fake Wellflow, a local identity
# provider (JWKS + token minting), and `cargo lambda watch` serving every function. The
# functions read their secrets from moto's Secrets Manager at cold start and verify bearer
# tokens against the local JWKS, exactly as in AWS. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_PORT=${MOTO_PORT:-4566}
WELLFLOW_PORT=${WELLFLOW_PORT:-9100}
LAMBDA_PORT=${LAMBDA_PORT:-9000}
ISSUER_PORT=${ISSUER_PORT:-9200}
# cargo lambda watch listens here; apigw-front (API Gateway's part) on LAMBDA_PORT in front of it.
WATCH_PORT=${WATCH_PORT:-$((LAMBDA_PORT + 1))}
PY=.venv/bin/python
mkdir -p .local

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "stopping local stack..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for port in "$MOTO_PORT" "$WELLFLOW_PORT" "$LAMBDA_PORT" "$WATCH_PORT" "$ISSUER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is busy (another 'make dev'?). Stop it or set MOTO_PORT/WELLFLOW_PORT/LAMBDA_PORT/WATCH_PORT/ISSUER_PORT." >&2
    exit 1
  fi
done

echo "building functions and local tools..."
cargo build --quiet --workspace --bins

"$PY" infra/moto_server.py --port "$MOTO_PORT" --parent-pid $$ > .local/moto.out 2> .local/moto.log &
pids+=($!)
for _ in $(seq 1 100); do grep -q MOTO_ENDPOINT .local/moto.out 2>/dev/null && break; sleep 0.1; done
MOTO_ENDPOINT=$(sed -n 's/^MOTO_ENDPOINT=//p' .local/moto.out)
[ -n "$MOTO_ENDPOINT" ] || { echo "moto did not start, see .local/moto.log" >&2; exit 1; }

# Local values of the template's secrets (public dev strings; the ones not given here are
# generated). The functions get only the secrets' ARNs (.local/stack.env), never the values.
target/debug/local-stack --endpoint "$MOTO_ENDPOINT" --template template.yaml --table referrals --prefix local \
  --env-out .local/stack.env --seed demo-referrer=K7M2XQ \
  --secret WebhookSigningSecret=local-webhook-secret-0123456789 \
  --secret SignupSigningSecret=local-signup-secret-0123456789 \
  --secret WellflowApiKeySecret=local-dev-key \
  --secret StripeWebhookSigningSecret=whsec_local_0123456789abcdefLOCALONLY

# The identity provider: JWKS at $ISSUER_URL/.well-known/jwks.json, tokens from
# `infra/local_issuer.py mint USER [ROLE...]`.
"$PY" infra/local_issuer.py serve --port "$ISSUER_PORT" --parent-pid $$ > .local/issuer.out 2> .local/issuer.log &
pids+=($!)
for _ in $(seq 1 100); do grep -q ISSUER_URL .local/issuer.out 2>/dev/null && break; sleep 0.1; done
ISSUER_URL=$(sed -n 's/^ISSUER_URL=//p' .local/issuer.out)
[ -n "$ISSUER_URL" ] || { echo "local issuer did not start, see .local/issuer.log" >&2; exit 1; }
export LOCAL_ISSUER_URL=$ISSUER_URL

WELLFLOW_API_KEY=local-dev-key target/debug/fake-wellflow --port "$WELLFLOW_PORT" > .local/wellflow.log 2>&1 &
pids+=($!)

{
  cat .local/stack.env
  echo "AWS_ENDPOINT_URL=$MOTO_ENDPOINT"
  echo "AWS_REGION=us-east-1"
  echo "AWS_ACCESS_KEY_ID=test"
  echo "AWS_SECRET_ACCESS_KEY=test"
  echo "SITE_ORIGIN=https://www.example.com"
  echo "ATTRIBUTION_MODEL=first_touch"
  echo "WELLFLOW_BASE_URL=http://127.0.0.1:$WELLFLOW_PORT"
  echo "STRIPE_LIVEMODE=false"
  echo "RETRY_BASE_DELAY_SECS=5"
  echo "JWT_JWKS_URL=$ISSUER_URL/.well-known/jwks.json"
  echo "JWT_ISSUER=$ISSUER_URL"
  echo "JWT_AUDIENCE=referrals-local"
  # Links point at the redirect function (locally: its cargo-lambda URL).
  echo "LINK_BASE_URL=http://127.0.0.1:$LAMBDA_PORT/lambda-url/redirect"
  echo "PUBLIC_BASE_PATH=/lambda-url/dashboard"
  echo "WEBHOOK_ALLOW_HTTP_LOOPBACK=true"
  echo "PARTNER_WEBHOOK_BASE_DELAY_SECS=5"
  # The fake Wellflow runs on this machine's clock: reconcile what was just booked.
  echo "RECONCILE_LAG_MINUTES=0"
  echo "RECONCILE_SKEW_MINUTES=0"
  echo "RUST_LOG=info"
} > .local/functions.env

cargo lambda watch --quiet -A 127.0.0.1 -P "$WATCH_PORT" --env-file .local/functions.env > .local/lambda.log 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$WATCH_PORT") 2>/dev/null && break; sleep 0.1; done
# API Gateway's part: HTTP request -> payload-2.0 event (a non-UTF-8 body base64-encoded, as in
# AWS) -> the function through watch's invoke API -> HTTP answer. cargo lambda watch's own
# function URLs answer 500 to a non-UTF-8 JSON body before the function runs; this does not.
target/debug/apigw-front --port "$LAMBDA_PORT" --lambda "http://127.0.0.1:$WATCH_PORT" > .local/apigw.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$LAMBDA_PORT") 2>/dev/null && break; sleep 0.1; done

# Lambda's SQS event source mapping, locally: retry queue -> credit-retry function.
RETRY_QUEUE_URL=$(sed -n 's/^CREDIT_RETRY_QUEUE_URL=//p' .local/stack.env)
target/debug/sqs-poller --endpoint "$MOTO_ENDPOINT" --queue-url "$RETRY_QUEUE_URL" \
  --invoke "http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/credit-retry/invocations" > .local/poller.log 2>&1 &
pids+=($!)
# Lambda's DynamoDB stream event source mapping, locally: the table's stream (the transactional
# outbox: partner events and Wellflow retries written with the money) -> outbox-dispatcher.
STREAM_ARN=$(sed -n 's/^TABLE_STREAM_ARN=//p' .local/stack.env)
target/debug/stream-poller --endpoint "$MOTO_ENDPOINT" --stream-arn "$STREAM_ARN" \
  --invoke "http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/outbox-dispatcher/invocations" > .local/stream-poller.log 2>&1 &
pids+=($!)
# ... and partner webhook queue -> partner-webhooks sender (register an http://127.0.0.1:<port> receiver).
PARTNER_QUEUE_URL=$(sed -n 's/^PARTNER_WEBHOOK_QUEUE_URL=//p' .local/stack.env)
target/debug/sqs-poller --endpoint "$MOTO_ENDPOINT" --queue-url "$PARTNER_QUEUE_URL" \
  --invoke "http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/partner-webhooks/invocations" > .local/partner-poller.log 2>&1 &
pids+=($!)
ADMIN_TOKEN=$("$PY" infra/local_issuer.py mint ops-admin admin)
USER_TOKEN=$("$PY" infra/local_issuer.py mint demo-referrer)

# cargo lambda watch compiles each function on its first invocation (10-30 s each): do that
# now, one after the other, so the first real request (or `make demo`) gets an answer in time.
echo "warming up the functions (first invocation compiles each one)..."
"$PY" - "$LAMBDA_PORT" <<'PYEOF'
import sys, urllib.error, urllib.request
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect function answers 302 to the public site: do not follow
opener = urllib.request.build_opener(Stay)
port = sys.argv[1]
calls = [(f"lambda-url/{fn}/", None) for fn in ("redirect", "signup", "webhook", "admin", "dashboard")]
calls += [(f"2015-03-31/functions/{fn}/invocations", b'{"Records": []}')
          for fn in ("credit-retry", "partner-webhooks", "failed-sweeper", "holding-release", "outbox-dispatcher")]
calls += [("2015-03-31/functions/reconcile/invocations", b'{"pass": "hourly"}')]
for path, body in calls:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=body, method="POST" if body else "GET")
    try:
        opener.open(req, timeout=600).read()
    except urllib.error.HTTPError:
        pass  # any answer means the function is built and running
    except Exception as err:  # noqa: BLE001 - report and go on; the stack still works, just slower
        print(f"  {path}: {err}", file=sys.stderr)
PYEOF
BASE="http://127.0.0.1:$LAMBDA_PORT/lambda-url"
cat <<BANNER

Local referral stack is up (logs in .local/):
  moto (DynamoDB, SQS,   $MOTO_ENDPOINT      table: referrals; secrets: local-<LogicalId>
    Secrets Manager)
  fake Wellflow          http://127.0.0.1:$WELLFLOW_PORT   (POST /__fault {"mode":"down"} to break it)
  identity provider      $ISSUER_URL   (JWKS; tokens: $PY infra/local_issuer.py mint USER [admin])
  functions              $BASE/<function>/<path>

Try (demo-referrer owns code K7M2XQ):
  curl -i '$BASE/redirect/?ref=K7M2XQ&utm_source=demo'
  curl -i '$BASE/redirect/pricing?ref=NOPE00'
  $PY infra/signed_post.py $BASE/signup/signups local-signup-secret-0123456789 \
      '{"user_id":"friend-1","ref_code":"K7M2XQ","signup_ip":"203.0.113.7"}'
  $PY infra/signed_post.py $BASE/webhook/webhooks/payments local-webhook-secret-0123456789 \
      '{"payment_id":"pay_1","user_id":"friend-1","amount":"50.00","currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}'
  curl -s http://127.0.0.1:$WELLFLOW_PORT/__stats
  curl -s -X POST http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/reconcile/invocations -d '{"pass":"hourly"}'
  curl -s '$BASE/admin/admin/reconciliation?status=open' -H 'authorization: Bearer $ADMIN_TOKEN'
  curl -s '$BASE/admin/admin/bonuses?status=failed' -H 'authorization: Bearer $ADMIN_TOKEN'

Referrals page of demo-referrer (open in a browser):
  $BASE/dashboard/referrals#token=$USER_TOKEN
Admin console:
  $BASE/admin/admin#token=$ADMIN_TOKEN

Press Ctrl-C to stop everything.
BANNER

wait -n "${pids[@]}"
echo "a component exited; see .local/*.log" >&2
