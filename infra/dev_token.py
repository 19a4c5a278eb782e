#!/usr/bin/env python3
"""Mint a local HS256 bearer token for `make dev` (never for production).

Usage: dev_token.py SUBJECT [ROLE] [SECRET]
  ROLE   e.g. admin (default: none, a plain user)
  SECRET default: the local stack's JWT_HS256_SECRET
"""
import base64
import hashlib
import hmac
import json
import sys
import time

LOCAL_SECRET = "local-jwt-secret-0123456789abcdef"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(sub: str, role: str | None, secret: str, ttl: int = 8 * 3600) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": sub, "exp": int(time.time()) + ttl}
    if role:
        claims["role"] = role
    payload = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(sig)}"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    role = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    print(mint(sys.argv[1], role, sys.argv[3] if len(sys.argv) > 3 else LOCAL_SECRET))
