#!/usr/bin/env python3
"""`make demo`: plays the product's scenarios end to end against the running local stack
(`make dev` in another terminal), through the real HTTP endpoints only.

A visitor clicks a new referrer's link (cookie set) and signs up (attributed); a solo friend
tops up $50 (-> $2.50), a 3-person team tops up $300 in total (-> $15.00), a business tops up
$1000 once (-> $50.00), a tester tops up $4 (-> nothing), the provider re-sends a webhook
(-> still one row), Wellflow goes down and comes back (-> failed, then credited by the retry
consumer), a $100 top-up is refunded $40.00 then (re-sent) $40.00 again (-> $3.00 stays), a
refund arrives before its success (-> nothing paid), a disputed top-up's dispute is won (->
restored). Then it prints the referrer's KPIs, the bonus history and the Referrals page URL.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

sys.path.insert(0, os.path.dirname(__file__))
from signed_post import signature  # noqa: E402

BASE = os.environ.get("DEMO_BASE", "http://127.0.0.1:9000/lambda-url")
WELLFLOW = os.environ.get("DEMO_WELLFLOW", "http://127.0.0.1:9100")
ISSUER = os.environ.get("LOCAL_ISSUER_URL", "http://127.0.0.1:9200")
SIGNUP_SECRET = "local-signup-secret-0123456789"
WEBHOOK_SECRET = "local-webhook-secret-0123456789"
RUN = str(int(time.time()))
REFERRER = f"demo-ref-{RUN}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(method, url, body=None, headers=None, follow=True):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode(errors="replace")


def signed(path, secret, payload):
    body = json.dumps(payload)
    headers = {"content-type": "application/json", "x-signature": signature(secret, body.encode(), int(time.time()))}
    status, _, text = call("POST", f"{BASE}/{path}", body, headers)
    return status, json.loads(text)


def topup(payment, user, amount, kind="topup.succeeded"):
    payload = {"payment_id": f"{payment}-{RUN}", "user_id": user, "amount": amount, "currency": "USD",
               "type": kind, "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return signed("webhook/webhooks/payments", WEBHOOK_SECRET, payload)


def dashboard(path, token):
    status, _, text = call("GET", f"{BASE}/dashboard/referrals/{path}", headers={"authorization": f"Bearer {token}"})
    if status != 200:
        sys.exit(f"dashboard {path} answered {status}: {text}")
    return json.loads(text)


def fault(mode):
    call("POST", f"{WELLFLOW}/__fault", json.dumps({"mode": mode}), {"content-type": "application/json"})


def step(title, outcome):
    print(f"  {title:<58} {outcome}")


def main():
    try:
        call("GET", f"{WELLFLOW}/__stats")
        status, _, _ = call("GET", f"{BASE}/redirect/", follow=False)
    except OSError:
        sys.exit("the local stack is not running: start `make dev` in another terminal first")
    if status != 302:
        sys.exit(f"redirect answered {status}; is `make dev` fully up?")

    # A bearer token from the local identity provider (infra/local_issuer.py, started by make dev).
    _, _, minted = call("POST", f"{ISSUER}/mint", json.dumps({"sub": REFERRER}), {"content-type": "application/json"})
    token = json.loads(minted)["token"]
    link = dashboard("link", token)
    code = link["code"]
    print(f"\nReferrer {REFERRER} shares {link['url']}\n")

    status, headers, _ = call("GET", f"{BASE}/redirect/pricing?ref={code}&utm_source=demo", follow=False)
    step("visitor opens the link", f"{status} -> {headers.get('location')}")
    cookie = headers.get("set-cookie", "")
    step("  cookie", cookie.split(";")[0] or "(none!)")
    cookie_code = cookie.split(";")[0].split("=", 1)[-1]

    users = {"solo": "solo-friend", "team1": "team-ana", "team2": "team-ben", "team3": "team-cy",
             "biz": "bizco", "tester": "tester"}
    for n, (key, user) in enumerate(users.items(), start=1):
        _, resp = signed("signup/signups", SIGNUP_SECRET, {"user_id": f"{user}-{RUN}", "ref_code": cookie_code,
                                                   "signup_ip": f"203.0.113.{n}"})
        step(f"{user} signs up with the cookie's code", "attributed" if resp.get("attributed") else resp)
    uid = {k: f"{v}-{RUN}" for k, v in users.items()}

    _, r = topup("pay-solo", uid["solo"], "50.00")
    step("solo friend tops up $50.00", f"{r['outcome']} {r['bonus']['amount']}")
    for i, amount in enumerate(["120.00", "100.00", "80.00"], start=1):
        _, r = topup(f"pay-team{i}", uid[f"team{i}"], amount)
        step(f"team member {i} tops up ${amount}", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-biz", uid["biz"], "1000.00")
    step("business tops up $1000.00 once", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-test", uid["tester"], "4.00")
    step("tester tops up $4.00", r["outcome"])
    _, r = topup("pay-solo", uid["solo"], "50.00")
    step("payment provider re-sends the solo webhook", r["outcome"])

    fault("down")
    _, r = topup("pay-solo-2", uid["solo"], "50.00")
    step("Wellflow down; solo tops up another $50.00", f"{r['outcome']} (row {r['bonus']['status']})")
    fault("ok")
    deadline = time.time() + 90
    while time.time() < deadline:
        history = dashboard("history?limit=50", token)["items"]
        row = next(i for i in history if i["payment_id"] == f"pay-solo-2-{RUN}")
        if row["status"] == "credited":
            break
        time.sleep(1)
    step("Wellflow back; the retry consumer credits it", row["status"])

    # Real-world event order: partial refunds (cumulative totals), refund before success, disputes.
    _, r = topup("pay-part", uid["team1"], "100.00")
    step("team member 1 tops up $100.00", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-part", uid["team1"], "40.00", kind="topup.refunded")
    step("  ... $40.00 of it is refunded", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-part", uid["team1"], "40.00", kind="topup.refunded")
    step("  ... the provider re-sends that refund", r["outcome"])
    _, r = topup("pay-early", uid["team2"], "60.00", kind="topup.refunded")
    step("a refund of $60.00 arrives before its success", r["outcome"])
    _, r = topup("pay-early", uid["team2"], "60.00")
    step("  ... then the success", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-disp", uid["team3"], "200.00")
    step("team member 3 tops up $200.00", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-disp", uid["team3"], "200.00", kind="topup.disputed")
    step("  ... the payment is disputed", f"{r['outcome']} {r['bonus']['amount']}")
    _, r = topup("pay-disp", uid["team3"], "200.00", kind="topup.dispute_won")
    step("  ... and the dispute is won", f"{r['outcome']} {r['bonus']['amount']}")

    kpis = dashboard("kpis", token)
    expected = Decimal("2.50") + Decimal("15.00") + Decimal("50.00") + Decimal("2.50") + Decimal("3.00") + Decimal("10.00")
    print("\nKPIs")
    for k in ("total_earned", "earned_last_30_days", "signups", "active_referred_users", "clicks"):
        print(f"  {k:<24} {kpis[k]}")
    print("\nHistory (newest first)")
    print(f"  {'payment':<28} {'top-up':>9} {'rate':>5} {'bonus':>7} {'now':>7}  status    reason")
    for item in dashboard("history?limit=50", token)["items"]:
        print(f"  {item['payment_id']:<28} {item['topup_amount']:>9} {item['rate']:>5} {item['bonus_amount']:>7}"
              f" {item['net_amount']:>7}  {item['status']:<9} {item['reason'] or ''}")
    print(f"\nReferrals page: {BASE}/dashboard/referrals#token={token}")
    if Decimal(kpis["total_earned"]) != expected:
        sys.exit(f"\nunexpected total: {kpis['total_earned']} != {expected}")
    print(f"\nOK: total earned {expected} as promised.")


if __name__ == "__main__":
    main()
