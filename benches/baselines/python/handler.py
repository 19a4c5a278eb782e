"""The Python peer of the cold-start bench: the redirect's work with awslambdaric + boto3.

Run as Lambda's Python runtime does: `python -m awslambdaric handler.click` with
AWS_LAMBDA_RUNTIME_API set. The boto3 client is built at import (init), as the AWS docs advise.
Same UpdateItem as our redirect (a random click shard, ADD clicks, attribute_exists).
"""
import os
import random

import boto3

TABLE = os.environ["TABLE_NAME"]
# boto3 reads AWS_ENDPOINT_URL (moto locally), the region and the credentials from the environment.
DYNAMODB = boto3.client("dynamodb")


def click(event, context):
    code = ((event.get("queryStringParameters") or {}).get("ref") or "").upper()
    DYNAMODB.update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"CODE#{code}#C{random.randrange(16)}"}, "SK": {"S": "CLICKS"}},
        UpdateExpression="ADD clicks :one",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    return {
        "statusCode": 302,
        "headers": {"location": "https://www.example.com/"},
        "cookies": [f"ref={code}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax"],
        "body": "",
    }


# --- The same work as the webhook's credited top-up and the dashboard's KPI read -------------
# Same round trips, same item counts and consistency as our functions (counted by moto's call
# log in the same bench run): two consistent BatchGetItems (payment record, payer, bonus and the
# rate tiers when the 60 s cache is stale; referrer, month stats), a 6-item TransactWriteItems, the
# Wellflow credit (HTTP, JSON, idempotency key), a 4-item TransactWriteItems. The peer reads the
# real seeded items and writes under PYPEER# keys of its own. The rules are not re-implemented.
import base64
import datetime
import hashlib
import hmac
import json
import time

import urllib3

WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRETS", "").split(",")[0].encode()
JWT_SECRET = os.environ.get("JWT_HS256_SECRET", "").encode()
WELLFLOW = os.environ.get("WELLFLOW_BASE_URL", "")
WELLFLOW_AUTH = "Bearer " + os.environ.get("WELLFLOW_API_KEY", "")
_TIERS_READ_AT = 0.0
HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=2.0), retries=False)


def _response(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _verified(headers, body):
    try:
        parts = dict(p.split("=", 1) for p in headers.get("x-signature", "").split(","))
        expected = hmac.new(WEBHOOK_SECRET, f"{parts['t']}.{body}".encode(), hashlib.sha256).hexdigest()
        return abs(time.time() - int(parts["t"])) <= 300 and hmac.compare_digest(expected, parts["v1"])
    except (KeyError, ValueError):
        return False


def topup(event, context):
    body = event.get("body") or ""
    if not _verified(event.get("headers") or {}, body):
        return _response(400, {"error": "invalid_signature"})
    payment = json.loads(body)
    pay, payer = payment["payment_id"], payment["user_id"]
    keys = [
        {"PK": {"S": f"PAYMENT#py:{pay}"}, "SK": {"S": "PAYMENT"}},
        {"PK": {"S": f"USER#{payer}"}, "SK": {"S": "PROFILE"}},
        {"PK": {"S": f"BONUS#py:{pay}"}, "SK": {"S": "BONUS"}},
    ]
    global _TIERS_READ_AT
    if time.time() - _TIERS_READ_AT > 60:  # the rate-tier table is cached 60 s, as ours
        keys.append({"PK": {"S": "CONFIG"}, "SK": {"S": "RATE_TIERS"}})
        _TIERS_READ_AT = time.time()
    first = DYNAMODB.batch_get_item(RequestItems={TABLE: {"ConsistentRead": True, "Keys": keys}})
    profile = next(i for i in first["Responses"][TABLE] if i["SK"]["S"] == "PROFILE")
    referrer = profile["referrer_id"]["S"]
    month = datetime.date.today().strftime("%Y-%m")
    DYNAMODB.batch_get_item(RequestItems={TABLE: {"ConsistentRead": True, "Keys": [
        {"PK": {"S": f"USER#{referrer}"}, "SK": {"S": "PROFILE"}},
        {"PK": {"S": f"USER#{referrer}"}, "SK": {"S": f"STATS#{month}"}},
    ]}})
    bonus = "2.50"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()

    def update(pk, sk, expr, values):
        return {"Update": {"TableName": TABLE, "Key": {"PK": {"S": pk}, "SK": {"S": sk}},
                           "UpdateExpression": expr, "ExpressionAttributeValues": values}}

    DYNAMODB.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "ConditionExpression": "attribute_not_exists(PK)", "Item": {
            "PK": {"S": f"PYPEER#BONUS#{pay}"}, "SK": {"S": "BONUS"}, "status": {"S": "failed"},
            "referrer_id": {"S": referrer}, "amount": {"S": bonus}, "created_at": {"S": now}}}},
        {"Put": {"TableName": TABLE, "ConditionExpression": "attribute_not_exists(PK)", "Item": {
            "PK": {"S": f"PYPEER#PAYMENT#{pay}"}, "SK": {"S": "PAYMENT"}}}},
        update(f"PYPEER#USER#{referrer}", "PROFILE", "SET recent = list_append(if_not_exists(recent, :e), :t)",
               {":e": {"L": []}, ":t": {"L": [{"N": str(int(time.time()))}]}}),
        update(f"PYPEER#USER#{referrer}", f"STATS#{month}", "ADD referred_volume :v", {":v": {"N": payment["amount"]}}),
        update(f"PYPEER#USER#{payer}", "PROFILE", "SET first_bonus_payment = :p", {":p": {"S": pay}}),
        update(f"PYPEER#USER#{referrer}", "STATS", "ADD pending :one", {":one": {"N": "1"}}),
    ])
    credit = HTTP.request(
        "POST", f"{WELLFLOW}/v1/accounts/{referrer}/credits",
        body=json.dumps({"amount": bonus, "currency": "USD", "description": f"referral bonus {pay}"}),
        headers={"authorization": WELLFLOW_AUTH, "content-type": "application/json",
                 "idempotency-key": f"py:{pay}"},
    )
    if credit.status >= 300:
        return _response(502, {"error": "wellflow", "status": credit.status})
    DYNAMODB.transact_write_items(TransactItems=[
        {"Update": {**update(f"PYPEER#BONUS#{pay}", "BONUS", "SET #s = :c", {":c": {"S": "credited"}})["Update"],
                    "ExpressionAttributeNames": {"#s": "status"}}},
        update(f"PYPEER#USER#{referrer}", "STATS", "ADD earned_total :b", {":b": {"N": bonus}}),
        update(f"PYPEER#USER#{referrer}", f"DAY#{now[:10]}", "ADD earned :b", {":b": {"N": bonus}}),
        update(f"PYPEER#USER#{referrer}", f"STATS#{month}", "ADD earned :b", {":b": {"N": bonus}}),
    ])
    return _response(200, {"outcome": "credited", "bonus": {"payment_id": pay, "amount": bonus}})


def _jwt_subject(headers):
    token = headers.get("authorization", "").removeprefix("Bearer ").strip()
    header, claims, signature = token.split(".")
    expected = hmac.new(JWT_SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.urlsafe_b64encode(expected).rstrip(b"=").decode(), signature):
        raise ValueError("bad token")
    data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    if data["exp"] < time.time():
        raise ValueError("expired")
    return data["sub"]


def kpis(event, context):
    try:
        user = _jwt_subject(event.get("headers") or {})
    except (ValueError, KeyError):
        return _response(401, {"error": "unauthorized"})
    today = datetime.date.today()
    items = DYNAMODB.query(
        TableName=TABLE, ConsistentRead=True,
        KeyConditionExpression="PK = :pk AND SK BETWEEN :from AND :to",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user}"},
                                   ":from": {"S": f"DAY#{today - datetime.timedelta(days=30)}"},
                                   ":to": {"S": "STATS"}},
    )["Items"]
    stats = next((i for i in items if i["SK"]["S"] == "STATS"), {})
    profile = next((i for i in items if i["SK"]["S"] == "PROFILE"), {})
    code = profile.get("code", {}).get("S", "")
    keys = [{"PK": {"S": f"CODE#{code}"}, "SK": {"S": "CODE"}}]
    keys += [{"PK": {"S": f"CODE#{code}#C{n}"}, "SK": {"S": "CLICKS"}} for n in range(16)]
    shards = DYNAMODB.batch_get_item(RequestItems={TABLE: {"ConsistentRead": True, "Keys": keys}})
    clicks = sum(int(i.get("clicks", {}).get("N", "0")) for i in shards["Responses"][TABLE])
    return _response(200, {
        "code": code,
        "total_earned": stats.get("earned_total", {}).get("N", "0"),
        "earned_last_30_days": str(sum(float(i.get("earned", {}).get("N", "0")) for i in items if i["SK"]["S"].startswith("DAY#"))),
        "signups": int(stats.get("signups", {}).get("N", "0")),
        "clicks": clicks,
    })
