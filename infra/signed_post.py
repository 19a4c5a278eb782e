#!/usr/bin/env python3
"""POST a JSON body signed like our payment provider / auth service (X-Signature).

Usage: signed_post.py URL SECRET 'JSON'
Example (with `make dev` running):
  .venv/bin/python infra/signed_post.py http://127.0.0.1:9000/lambda-url/webhook/ \
      local-webhook-secret-0123456789 \
      '{"payment_id":"pay_1","user_id":"u1","amount":"50.00","currency":"USD","type":"topup.succeeded","occurred_at":"2026-11-25T09:00:00Z"}'
"""
import hashlib
import hmac
import sys
import time
import urllib.error
import urllib.request


def signature(secret: str, body: bytes, t: int) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(url: str, body: bytes, headers: dict) -> int:
    """POSTs `body` with `headers`, prints the status and the answer; 0 on 2xx, 1 otherwise."""
    req = urllib.request.Request(url, data=body, method="POST")
    for name, value in headers.items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            print(resp.status, resp.read().decode())
    except urllib.error.HTTPError as err:
        print(err.code, err.read().decode())
        return 1
    except urllib.error.URLError as err:
        print(f"cannot reach {url}: {err.reason} (is `make dev` running?)", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, secret, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    return post(url, body, {"content-type": "application/json", "x-signature": signature(secret, body, int(time.time()))})


if __name__ == "__main__":
    sys.exit(main())
