#!/usr/bin/env python3
"""A tiny local identity provider for `make dev` and the tests (never for production).

It does what Cognito, Auth0, Clerk or Keycloak do for our functions: publishes a JWKS and signs
RS256/ES256 tokens with a `kid`, and rotates keys. Keys live in memory only (new ones at every
start); nothing is written to disk.

  local_issuer.py serve [--port N] [--parent-pid PID] [--alg RS256|ES256]
      Serves on 127.0.0.1 (port 0 = a free one) and prints `ISSUER_URL=http://127.0.0.1:<port>`
      once ready. With --parent-pid it exits when that process does.
        GET  /.well-known/jwks.json            the published public keys
        GET  /.well-known/openid-configuration {issuer, jwks_uri}
        POST /mint   {"sub", "roles"?: [...], "ttl"?: s, "nbf"?: unix, "exp"?: unix,
                      "kid"?: signing key (default: the newest), "aud"?, "iss"?, "claims"?: {...}}
                     -> {"token", "kid"}
        POST /rotate {"alg"?: "RS256"|"ES256"} -> {"kid"}   a new key, published and used from now on
        POST /retire {"kid"}                   -> {"kid"}   stop publishing a key (it can still mint, to test refusal)
        GET  /__stats                          -> {"jwks_requests": n}

  local_issuer.py mint SUBJECT [ROLE ...]
      Prints a token (8 h) from the running issuer (LOCAL_ISSUER_URL, default http://127.0.0.1:9200).

Tokens carry iss = the issuer URL, aud = `referrals-local`, sub, iat, exp, and `roles` (a list).
"""
import argparse
import base64
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import parent_watch  # infra/, next to this script

AUDIENCE = "referrals-local"
DEFAULT_URL = "http://127.0.0.1:9200"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int, length: int | None = None) -> bytes:
    return n.to_bytes(length or (n.bit_length() + 7) // 8, "big")


class Key:
    def __init__(self, kid: str, alg: str):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        self.kid, self.alg = kid, alg
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported alg {alg}")

    def jwk(self) -> dict:
        numbers = self.private.public_key().public_numbers()
        if self.alg == "RS256":
            return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": b64(uint(numbers.n)), "e": b64(uint(numbers.e))}
        return {"kty": "EC", "kid": self.kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                "x": b64(uint(numbers.x, 32)), "y": b64(uint(numbers.y, 32))}

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return uint(r, 32) + uint(s, 32)


class Issuer:
    def __init__(self, alg: str):
        self.lock = threading.Lock()
        self.keys: dict[str, Key] = {}
        self.published: list[str] = []
        self.jwks_requests = 0
        self.url = ""
        self.rotate(alg)

    def rotate(self, alg: str) -> str:
        with self.lock:
            kid = f"local-{len(self.keys) + 1}-{alg.lower()}"
            self.keys[kid] = Key(kid, alg)
            self.published.append(kid)
            return kid

    def retire(self, kid: str) -> str:
        with self.lock:
            if kid not in self.published:
                raise KeyError(kid)
            self.published.remove(kid)
            return kid

    def jwks(self) -> dict:
        with self.lock:
            self.jwks_requests += 1
            return {"keys": [self.keys[k].jwk() for k in self.published]}

    def mint(self, req: dict) -> dict:
        with self.lock:
            kid = req.get("kid") or self.published[-1]
            key = self.keys[kid]
        now = int(time.time())
        claims = {"iss": req.get("iss", self.url), "aud": req.get("aud", AUDIENCE), "sub": req["sub"], "iat": now,
                  "exp": req.get("exp", now + int(req.get("ttl", 8 * 3600)))}
        if "nbf" in req:
            claims["nbf"] = req["nbf"]
        if req.get("roles"):
            claims["roles"] = list(req["roles"])
        claims.update(req.get("claims", {}))
        header = {"alg": key.alg, "typ": "JWT", "kid": kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        return {"token": f"{signing_input}.{b64(key.sign(signing_input.encode()))}", "kid": kid}


def handler_for(issuer: Issuer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: tests and make dev read stdout
            pass

        def reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/.well-known/jwks.json":
                return self.reply(200, issuer.jwks())
            if self.path == "/.well-known/openid-configuration":
                return self.reply(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/.well-known/jwks.json"})
            if self.path == "/__stats":
                with issuer.lock:
                    return self.reply(200, {"jwks_requests": issuer.jwks_requests, "published": list(issuer.published)})
            self.reply(404, {"error": "not found"})

        def do_POST(self):
            try:
                length = int(self.headers.get("content-length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/mint":
                    return self.reply(200, issuer.mint(req))
                if self.path == "/rotate":
                    return self.reply(200, {"kid": issuer.rotate(req.get("alg", "RS256"))})
                if self.path == "/retire":
                    return self.reply(200, {"kid": issuer.retire(req["kid"])})
                self.reply(404, {"error": "not found"})
            except (KeyError, ValueError, json.JSONDecodeError) as err:
                self.reply(400, {"error": f"bad request: {err!r}"})

    return Handler


def serve(args) -> int:
    issuer = Issuer(args.alg)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"ISSUER_URL={issuer.url}", flush=True)
    parent_watch.wait(args.parent_pid)
    server.shutdown()
    return 0


def mint_cli(args) -> int:
    url = os.environ.get("LOCAL_ISSUER_URL", DEFAULT_URL).rstrip("/")
    body = json.dumps({"sub": args.subject, "roles": args.roles}).encode()
    req = urllib.request.Request(f"{url}/mint", data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(json.load(resp)["token"])
    except OSError as err:
        print(f"cannot reach the local issuer at {url} ({err}); is `make dev` running?", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--parent-pid", type=int, default=0)
    s.add_argument("--alg", default="RS256", choices=["RS256", "ES256"])
    m = sub.add_parser("mint")
    m.add_argument("subject")
    m.add_argument("roles", nargs="*")
    args = parser.parse_args()
    return serve(args) if args.command == "serve" else mint_cli(args)


if __name__ == "__main__":
    sys.exit(main())
