#!/usr/bin/env python3
"""Send a signed Stripe event to the local webhook, like `stripe listen --forward-to` would.

The event is a full Stripe snapshot event built from the fixture of its type
(functions/webhook/tests/fixtures/stripe/<type>.json) with a fresh `evt_` id, `created`
set to now and the fields you choose; it is signed like Stripe signs (`Stripe-Signature:
t=<now>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`) with the first value of the local stack's
Stripe secret, read from moto's Secrets Manager like the webhook function reads it (the ARN
and endpoint from .local/functions.env, written by `make dev`), or STRIPE_WEBHOOK_SECRETS.

Usage: stripe_event.py TYPE [options]
  TYPE  payment_intent.succeeded | checkout.session.completed |
        checkout.session.async_payment_succeeded | charge.refunded |
        charge.dispute.created | charge.dispute.closed | any other type (sent as an
        unhandled event: answered 200 ignored)

Examples (with `make dev` running):
  .venv/bin/python infra/stripe_event.py payment_intent.succeeded --payment pi_123 --user u_1 --amount 5000
  .venv/bin/python infra/stripe_event.py checkout.session.completed --payment pi_123 --user u_1 --amount 5000
  .venv/bin/python infra/stripe_event.py charge.refunded --payment pi_123 --amount-refunded 2000
  .venv/bin/python infra/stripe_event.py charge.dispute.created --payment pi_123 --amount 5000
  .venv/bin/python infra/stripe_event.py charge.dispute.closed --payment pi_123 --status won
  .venv/bin/python infra/stripe_event.py customer.created
  .venv/bin/python infra/stripe_event.py payment_intent.succeeded --dry-run      # print, send nothing

Amounts are integer cents, as Stripe sends them (5000 = USD 50.00). Re-send the very same
event (a Stripe retry) with --event-id evt_… .
"""
import argparse
import copy
import json
import os
import pathlib
import secrets
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))
# Stripe's scheme is the one our generic contract copies: the same HMAC, another header name.
# `signature` is stripe-python's generate_signature_header (checked by stripe_signature_check.py).
from signed_post import post, signature  # noqa: E402
FIXTURES = ROOT / "functions/webhook/tests/fixtures/stripe"
DEFAULT_URL = "http://127.0.0.1:9000/lambda-url/webhook/webhooks/stripe"
ENV_FILE = ROOT / ".local/functions.env"
HANDLED = {
    "payment_intent.succeeded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
}


def secret_from_env() -> str:
    raw = os.environ.get("STRIPE_WEBHOOK_SECRETS")
    if raw is None and ENV_FILE.exists():
        env = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
        if "STRIPE_WEBHOOK_SECRETS_SECRET_ARN" in env and "AWS_ENDPOINT_URL" in env:
            import boto3  # moto's dependency, in the venv

            client = boto3.client("secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                  aws_access_key_id="test", aws_secret_access_key="test")
            raw = client.get_secret_value(SecretId=env["STRIPE_WEBHOOK_SECRETS_SECRET_ARN"])["SecretString"]
            if raw.lstrip().startswith("["):
                raw = ",".join(json.loads(raw))
    if not raw:
        sys.exit(f"no Stripe secret in moto ({ENV_FILE}) or STRIPE_WEBHOOK_SECRETS (run `make dev`, or pass --secret)")
    return raw.split(",")[0].strip()


def build_event(args: argparse.Namespace) -> dict:
    name = args.type if args.type in HANDLED else "payment_intent.created"
    event = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    now = int(time.time())
    event["id"] = args.event_id or f"evt_local{secrets.token_hex(10)}"
    event["type"] = args.type
    event["created"] = now
    event["livemode"] = args.livemode
    obj = event["data"]["object"]
    obj["livemode"] = args.livemode
    if args.currency is not None:
        obj["currency"] = args.currency
    metadata = obj.get("metadata") or {}

    if name.startswith("payment_intent."):
        if args.payment:
            obj["id"] = args.payment
        if args.amount is not None:
            obj["amount"] = obj["amount_received"] = args.amount
        if args.type not in HANDLED:
            obj["amount_received"] = 0
    elif name.startswith("checkout.session."):
        if args.payment:
            obj["payment_intent"] = args.payment
        if args.amount is not None:
            obj["amount_subtotal"] = obj["amount_total"] = args.amount
        if args.payment_status:
            obj["payment_status"] = args.payment_status
        if args.mode:
            obj["mode"] = args.mode
        if args.user is not None:
            obj["client_reference_id"] = args.user or None
    elif name == "charge.refunded":
        if args.payment:
            obj["payment_intent"] = args.payment
            for refund in obj["refunds"]["data"]:
                refund["payment_intent"] = args.payment
        if args.amount is not None:
            obj["amount"] = obj["amount_captured"] = args.amount
        if args.amount_refunded is not None:
            obj["amount_refunded"] = args.amount_refunded
            obj["refunded"] = args.amount_refunded >= obj["amount"]
            obj["refunds"]["data"][0]["amount"] = args.amount_refunded
    elif name.startswith("charge.dispute."):
        if args.payment:
            obj["payment_intent"] = args.payment
        if args.amount is not None:
            obj["amount"] = args.amount
        if args.status:
            obj["status"] = args.status

    if args.user is not None:
        if args.user:
            metadata["user_id"] = args.user
        else:
            metadata.pop("user_id", None)
        obj["metadata"] = metadata
    return event


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("type", help="the Stripe event type")
    p.add_argument("--payment", help="PaymentIntent id (pi_…); default: the fixture's pi_3QrfTopup0001abcdEFGH")
    p.add_argument("--user", help="user id in metadata.user_id (and client_reference_id on sessions); '' removes it")
    p.add_argument("--amount", type=int, help="cents: amount_received / amount_total / the charge or disputed amount")
    p.add_argument("--amount-refunded", type=int, help="charge.refunded: the cumulative amount_refunded, in cents")
    p.add_argument("--status", help="charge.dispute.*: dispute status (won, lost, warning_closed, needs_response, …)")
    p.add_argument("--payment-status", help="checkout.session.*: paid, unpaid or no_payment_required")
    p.add_argument("--mode", help="checkout.session.*: payment, setup or subscription")
    p.add_argument("--currency", help="three-letter code as Stripe sends it (usd)")
    p.add_argument("--livemode", action="store_true", help="mark the event live (the local stack runs STRIPE_LIVEMODE=false)")
    p.add_argument("--event-id", help="reuse this evt_ id (a retry of the same event)")
    p.add_argument("--url", default=os.environ.get("STRIPE_WEBHOOK_URL", DEFAULT_URL))
    p.add_argument("--secret", help="signing secret (default: first of STRIPE_WEBHOOK_SECRETS)")
    p.add_argument("--dry-run", action="store_true", help="print the header and body, send nothing")
    args = p.parse_args()

    body = json.dumps(build_event(args), indent=2).encode()
    header = signature(args.secret or secret_from_env(), body, int(time.time()))
    if args.dry_run:
        print(f"Stripe-Signature: {header}\n")
        print(body.decode())
        return 0
    return post(args.url, body, {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) [local stripe_event.py]",
        "stripe-signature": header,
    })


if __name__ == "__main__":
    sys.exit(main())
