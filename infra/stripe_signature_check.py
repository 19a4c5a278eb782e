#!/usr/bin/env python3
"""Stripe's own library accepts the Stripe-Signature headers we produce (run by `make check`).

Offline and fast (~0.5 s): no network, no API key. For every case of
functions/webhook/tests/fixtures/stripe/signatures.json (headers produced by the webhook
crate's `stripe::sign`, kept equal to it by the Rust test
`golden_signatures_are_what_our_signer_produces`):
  - `stripe.Webhook.construct_event(body, header, secret)` accepts it with each secret that
    signed it (rotation: two v1 entries plus a test-mode v0) and returns the event;
  - for single-secret cases, our header is byte for byte stripe-python's
    `WebhookSignature.generate_signature_header`;
  - one changed byte of the body, or another secret, is refused.
And a header signed now by infra/stripe_event.py passes construct_event's default 300 s
tolerance, so the local tool speaks Stripe's dialect too.

Usage: .venv/bin/python infra/stripe_signature_check.py   (needs `stripe` from infra/requirements.txt)
"""
import json
import pathlib
import sys
import time

import stripe
from stripe import SignatureVerificationError, Webhook, WebhookSignature

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "functions/webhook/tests/fixtures/stripe"
sys.path.insert(0, str(ROOT / "infra"))
import stripe_event  # noqa: E402  (the local sender's signer)


def refused(body: bytes, header: str, secret: str) -> bool:
    try:
        Webhook.construct_event(body, header, secret, tolerance=None)
    except SignatureVerificationError:
        return True
    return False


def main() -> int:
    golden = json.loads((FIXTURES / "signatures.json").read_text())
    checked = 0
    for case in golden["cases"]:
        body = (FIXTURES / f"{case['fixture']}.json").read_bytes()
        header, t = case["header"], case["timestamp"]
        for secret in case["signed_with"]:
            # tolerance=None: the fixtures are signed at their own (past) timestamps.
            event = Webhook.construct_event(body, header, secret, tolerance=None)
            assert event.id == json.loads(body)["id"] and event.type == case["fixture"], case
            checked += 1
        if len(case["signed_with"]) == 1:
            theirs = WebhookSignature.generate_signature_header(body.decode("utf-8"), case["signed_with"][0], t)
            assert theirs == header, f"{case['fixture']}: stripe-python signs {theirs}, we sign {header}"
        tampered = body.replace(b"5000", b"5001", 1) if b"5000" in body else body + b" "
        assert refused(tampered, header, case["signed_with"][0]), f"{case['fixture']}: tampered body accepted"
        assert refused(body, header, "whsec_test_not_the_secret_0123456789"), f"{case['fixture']}: wrong secret accepted"

    # The local sender's headers, fresh, under stripe-python's default tolerance.
    body = (FIXTURES / "charge.refunded.json").read_bytes()
    secret = "whsec_test_0123456789abcdefABCDEF"
    Webhook.construct_event(body, stripe_event.signature(secret, body, int(time.time())), secret)
    try:
        Webhook.construct_event(body, stripe_event.signature(secret, body, int(time.time()) - 301), secret)
        raise AssertionError("a header older than the tolerance was accepted")
    except SignatureVerificationError:
        pass
    print(f"stripe-python {stripe.VERSION}: {checked} Stripe-Signature headers accepted, tampering refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
