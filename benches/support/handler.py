"""The yardstick for otpbot's Lambda cold start: a Python handler of the same job as first
designed (check Slack's signature, read the tool's seed from SSM with one GetParameter, compute
the TOTP code with pyotp, answer privately), run by awslambdaric under the same runtime API.

Its init is what a Python function pays before its first request: the interpreter, boto3 and
pyotp imports and the SSM client. benches/lambda_start.rs starts it; it is not part of otpbot.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import parse_qs

import boto3
import pyotp

SSM = boto3.client("ssm")
SIGNING_SECRET = os.environ["BENCH_SIGNING_SECRET"].encode()
SEED_PARAMETER = os.environ["BENCH_SEED_PARAMETER"]


def _answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def handle(event, context):
    headers = event.get("headers") or {}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    stamp = headers.get("x-slack-request-timestamp", "0")
    if abs(time.time() - int(stamp)) > 300:
        return _answer(401, {"error": "stale"})
    base = b"v0:" + stamp.encode() + b":" + body
    mine = "v0=" + hmac.new(SIGNING_SECRET, base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mine, headers.get("x-slack-signature", "")):
        return _answer(401, {"error": "signature"})
    form = parse_qs(body.decode())
    if form.get("text", [""])[0].strip() != "github":
        return _answer(200, {"response_type": "ephemeral", "text": "usage"})
    uri = SSM.get_parameter(Name=SEED_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    code = pyotp.parse_uri(uri).now()
    return _answer(
        200,
        {"response_type": "ephemeral", "text": f"GitHub code {code}, valid for a few seconds"},
    )
