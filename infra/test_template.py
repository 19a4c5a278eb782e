#!/usr/bin/env python3
"""Deploy-readiness checks on the TRANSFORMED template (what CloudFormation really deploys).

Run by `make check` (and so `make test`): `infra/test_template.py [template.yaml]`.

Each check returns a list of problems; the tests assert the real template has none, and that
each check does catch the mistake it exists for (a mutated copy of the template must fail), so
no check can pass vacuously:

* the dashboard's LINK_BASE_URL is the link domain, or the URL of the API whose every GET
  route is the redirect function (the link a user copies always reaches the redirect);
* no secret value in any function's environment: only `<NAME>_SECRET_ARN` variables that
  `Ref` a Secrets Manager secret, each readable by exactly that function (least privilege),
  no dynamic `{{resolve:...}}` references, no NoEcho parameters; the redirect reads none;
* every function has its own log group with retention and an errors alarm (with OK actions);
* every HTTP API stage is throttled and writes access logs to a log group with retention;
* every alarm notifies on recovery too; every queue has an oldest-message-age alarm.
"""
import copy
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from validate_template import expand  # noqa: E402

TEMPLATE = os.environ.get("TEMPLATE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml"))

# Variable names that would carry a secret value if they were set directly.
SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY|HASH_KEY|SIGNING", re.I)
# Non-secret settings whose names match SECRETISH.
NOT_SECRET = {"API_KEY_RATE_PER_MINUTE", "SECRETS_REVISION"}


def resources(t, kind):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == kind}


def ref(v):
    """`Ref X` -> X; also `Fn::If [cond, Ref X, Ref AWS::NoValue]` (a resource only some stacks have)."""
    if not isinstance(v, dict):
        return None
    branches = v.get("Fn::If")
    if isinstance(branches, list) and len(branches) == 3 and branches[2] == {"Ref": "AWS::NoValue"}:
        return ref(branches[1])
    return v.get("Ref")


def walk(v):
    """Every value nested in v."""
    yield v
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


def function_env(fn):
    return fn["Properties"].get("Environment", {}).get("Variables", {})


def policy_statements(t, fn_id):
    """Every IAM statement of the function's execution role."""
    role_id = t["Resources"][fn_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = t["Resources"][role_id]["Properties"]
    for policy in role.get("Policies", []):
        if "Fn::If" in policy:  # a conditional policy (e.g. the Stripe secret): check its statements
            policy = policy["Fn::If"][1]
        stmts = policy["PolicyDocument"]["Statement"]
        yield from stmts if isinstance(stmts, list) else [stmts]


def as_list(v):
    return v if isinstance(v, list) else [v]


def referenced(v):
    """The logical id a policy Resource points at: `Ref X`, or SAM's `Fn::Sub ["${a}", {a: Ref X}]`."""
    if ref(v):
        return ref(v)
    sub = v.get("Fn::Sub") if isinstance(v, dict) else None
    if isinstance(sub, list) and len(sub) == 2:
        m = re.fullmatch(r"\$\{(\w+)\}", sub[0])
        if m and m.group(1) in sub[1]:
            return ref(sub[1][m.group(1)])
    return None


def alarms_on(t, namespace, metric, dimension):
    """The alarms on `namespace`/`metric` whose dimensions include `dimension`."""
    return [
        a for a, alarm in resources(t, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == namespace
        and alarm["Properties"].get("MetricName") == metric
        and dimension in alarm["Properties"].get("Dimensions", [])
    ]


def has_retention(t, group_id):
    """Whether `group_id` is a log group of this template with a retention."""
    group = resources(t, "AWS::Logs::LogGroup").get(group_id)
    return group is not None and "RetentionInDays" in group["Properties"]


# ---- the checks ---------------------------------------------------------------------------


def link_problems(t):
    """LINK_BASE_URL = https://<LinkDomainName> or the URL of an API that only routes to the redirect."""
    problems = []
    res = t["Resources"]
    dash = res.get("DashboardFunction")
    if dash is None:
        return ["no DashboardFunction"]
    link = function_env(dash).get("LINK_BASE_URL")
    if link is None:
        return ["DashboardFunction has no LINK_BASE_URL: links would fall back to the site and bypass the redirect"]
    if not (isinstance(link, dict) and "Fn::If" in link):
        return [f"LINK_BASE_URL must be Fn::If [HasLinkDomain, domain, API URL], got {link}"]
    cond, with_domain, without = link["Fn::If"]
    cond_def = t["Conditions"].get(cond)
    if cond_def != {"Fn::Not": [{"Fn::Equals": [{"Ref": "LinkDomainName"}, ""]}]}:
        problems.append(f"condition {cond} must be 'LinkDomainName is set', got {cond_def}")
    if with_domain != {"Fn::Sub": "https://${LinkDomainName}"}:
        problems.append(f"with a domain, LINK_BASE_URL must be https://${{LinkDomainName}}, got {with_domain}")
    m = re.fullmatch(r"https://\$\{(\w+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}", without.get("Fn::Sub", ""))
    if not m:
        return problems + [f"without a domain, LINK_BASE_URL must be an execute-api URL, got {without}"]
    api_id = m.group(1)
    api = res.get(api_id)
    if api is None or api["Type"] != "AWS::ApiGatewayV2::Api":
        return problems + [f"LINK_BASE_URL names {api_id}, which is not an HTTP API"]
    # Every route of that API: GET, integrated with the redirect function (its live alias).
    paths = api["Properties"]["Body"]["paths"]
    for path in ("/", "/{proxy+}"):
        if path not in paths:
            problems.append(f"{api_id} has no {path} route: some link paths would not reach the redirect")
    for path, ops in paths.items():
        for method, op in ops.items():
            uri = op.get("x-amazon-apigateway-integration", {}).get("uri", {})
            target = re.search(r"functions/\$\{(\w+)\}/invocations", str(uri.get("Fn::Sub", "")))
            if method.lower() != "get" or not target or not target.group(1).startswith("RedirectFunction"):
                problems.append(f"{api_id} {method.upper()} {path} is not the redirect function: links must only redirect")
    # The custom domain, when given, maps to that same API.
    mapping = res.get("LinkDomainMapping", {}).get("Properties", {})
    if ref(mapping.get("ApiId")) != api_id or ref(mapping.get("DomainName")) != "LinkDomain":
        problems.append("LinkDomainMapping must map LinkDomain to the link API")
    domain = res.get("LinkDomain", {})
    if domain.get("Condition") != cond or ref(domain.get("Properties", {}).get("DomainName")) != "LinkDomainName":
        problems.append("LinkDomain must be LinkDomainName, created exactly when the condition holds")
    out = t["Outputs"].get("LinkBaseUrl", {}).get("Value")
    if out != link:
        problems.append(f"Outputs.LinkBaseUrl must equal the dashboard's LINK_BASE_URL, got {out}")
    if "ReferralsPageUrl" not in t["Outputs"]:
        problems.append("no ReferralsPageUrl output")
    return problems


def secret_problems(t):
    problems = []
    secrets = resources(t, "AWS::SecretsManager::Secret")
    noecho = {k for k, p in t.get("Parameters", {}).items() if str(p.get("NoEcho", "")).lower() == "true"}
    if noecho:
        problems.append(f"NoEcho parameters {sorted(noecho)}: secret values belong in Secrets Manager")
    readers = {s: set() for s in secrets}
    for fn_id, fn in resources(t, "AWS::Lambda::Function").items():
        named = set()
        for var, value in function_env(fn).items():
            for v in walk(value):
                if isinstance(v, str) and "{{resolve:" in v:
                    problems.append(f"{fn_id}.{var}: a dynamic reference puts the secret's value in the environment")
                if ref(v) in noecho:
                    problems.append(f"{fn_id}.{var} takes the NoEcho parameter {ref(v)}")
            if var.endswith("_SECRET_ARN"):
                if ref(value) not in secrets:
                    problems.append(f"{fn_id}.{var} must be !Ref of a Secrets Manager secret, got {value}")
                else:
                    named.add(ref(value))
            elif SECRETISH.search(var) and var not in NOT_SECRET:
                problems.append(f"{fn_id}.{var}: a secret value in the environment (use {var}_SECRET_ARN)")
        granted = set()
        for stmt in policy_statements(t, fn_id):
            actions = {a.lower() for a in as_list(stmt.get("Action", []))}
            if not any(a.startswith("secretsmanager:") or a == "*" for a in actions):
                continue
            if actions - {"secretsmanager:getsecretvalue"}:
                problems.append(f"{fn_id} may {sorted(actions)}: only secretsmanager:GetSecretValue is needed")
            for r in as_list(stmt.get("Resource", [])):
                if referenced(r) in secrets:
                    granted.add(referenced(r))
                else:
                    problems.append(f"{fn_id} may read secrets {r}: grant exactly the secrets it names")
        if named and ref(function_env(fn).get("SECRETS_REVISION")) != "SecretsRevision":
            problems.append(f"{fn_id} reads secrets but has no SECRETS_REVISION (nothing would restart it after a rotation)")
        if granted != named:
            problems.append(
                f"{fn_id} names secrets {sorted(named)} but may read {sorted(granted)} (each function reads exactly its own)"
            )
        for s in granted:
            readers[s].add(fn_id)
    redirect_vars = [v for v in function_env(t["Resources"]["RedirectFunction"]) if v.endswith("_SECRET_ARN")]
    if redirect_vars:
        problems.append(f"the redirect function must read no secret, it names {redirect_vars}")
    for s, fns in readers.items():
        if not fns:
            problems.append(f"secret {s} is read by no function")
    return problems


def function_problems(t):
    problems = []
    functions = resources(t, "AWS::Lambda::Function")
    log_group = {f: ref(fn["Properties"].get("LoggingConfig", {}).get("LogGroup")) for f, fn in functions.items()}
    for fn_id, group in log_group.items():
        if group not in resources(t, "AWS::Logs::LogGroup"):
            problems.append(f"{fn_id} has no LoggingConfig.LogGroup of its own (Lambda's default group keeps logs forever)")
        elif not has_retention(t, group):
            problems.append(f"{fn_id}'s log group {group} has no RetentionInDays")
        elif list(log_group.values()).count(group) > 1:
            problems.append(f"log group {group} is shared by several functions")
        if not alarms_on(t, "AWS/Lambda", "Errors", {"Name": "FunctionName", "Value": {"Ref": fn_id}}):
            problems.append(f"{fn_id} has no errors alarm")
    return problems


def api_problems(t):
    problems = []
    apis = resources(t, "AWS::ApiGatewayV2::Api")
    stages = resources(t, "AWS::ApiGatewayV2::Stage")
    staged = {ref(s["Properties"]["ApiId"]) for s in stages.values()}
    for api in apis:
        if api not in staged:
            problems.append(f"{api} has no stage")
    for stage_id, stage in stages.items():
        p = stage["Properties"]
        throttle = p.get("DefaultRouteSettings", {})
        if "ThrottlingRateLimit" not in throttle or "ThrottlingBurstLimit" not in throttle:
            problems.append(f"{stage_id} has no default throttling")
        dest = p.get("AccessLogSettings", {}).get("DestinationArn", {})
        group = dest.get("Fn::GetAtt", [None])[0] if isinstance(dest, dict) else None
        if not has_retention(t, group):
            problems.append(f"{stage_id} writes no access logs to a log group with retention")
        fmt = p.get("AccessLogSettings", {}).get("Format", "")
        for leak in ("$context.identity.sourceIp", "$context.authorizer", "$context.identity.userAgent"):
            if leak in fmt:
                problems.append(f"{stage_id} access log format records {leak}")
    main = next((s["Properties"] for s in stages.values() if ref(s["Properties"]["ApiId"]) == "HttpApi"), {})
    default_rate = main.get("DefaultRouteSettings", {}).get("ThrottlingRateLimit")
    for route in ("POST /webhooks/payments", "POST /signups"):
        rate = main.get("RouteSettings", {}).get(route, {}).get("ThrottlingRateLimit")
        if not isinstance(rate, int):
            problems.append(f"{route} has no tighter throttling of its own")
        elif isinstance(default_rate, int) and rate >= default_rate:
            problems.append(f"{route} throttles at {rate}, not tighter than the default {default_rate}")
    return problems


def alarm_problems(t):
    problems = []
    alarms = resources(t, "AWS::CloudWatch::Alarm")
    for a, alarm in alarms.items():
        p = alarm["Properties"]
        if "OKActions" not in p or "AlarmActions" not in p:
            problems.append(f"{a} needs AlarmActions and OKActions")
    for q in resources(t, "AWS::SQS::Queue"):
        queue = {"Name": "QueueName", "Value": {"Fn::GetAtt": [q, "QueueName"]}}
        if not alarms_on(t, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue):
            problems.append(f"queue {q} has no oldest-message-age alarm")
    for fn_id, group in resources(t, "AWS::CodeDeploy::DeploymentGroup").items():
        if not group["Properties"].get("AlarmConfiguration", {}).get("Alarms"):
            problems.append(f"{fn_id} shifts traffic without alarms to roll back on")
    return problems


def samconfig_problems(t, path):
    """The example configuration sets every parameter, each to a value its constraints accept."""
    import tomllib

    with open(path, "rb") as fh:
        overrides = tomllib.load(fh)["default"]["deploy"]["parameters"]["parameter_overrides"]
    values = dict(item.split("=", 1) for item in overrides)
    params = t["Parameters"]
    problems = [f"{path}: no value for {p}" for p in params if p not in values]
    problems += [f"{path}: {k} is not a template parameter" for k in values if k not in params]
    for k, v in values.items():
        p = params.get(k, {})
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], v):
            problems.append(f"{path}: {k}={v!r} does not match {p['AllowedPattern']}")
        if "AllowedValues" in p and v not in [str(x) for x in p["AllowedValues"]]:
            problems.append(f"{path}: {k}={v!r} is not one of {p['AllowedValues']}")
        if len(v) < int(p.get("MinLength", 0)):
            problems.append(f"{path}: {k} is shorter than {p['MinLength']}")
    return problems


# ---- the tests ----------------------------------------------------------------------------


class DeployReadiness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = expand(TEMPLATE)

    def mutated(self):
        return copy.deepcopy(self.t)

    def test_links_reach_the_redirect(self):
        self.assertEqual(link_problems(self.t), [])

    def test_links_check_catches_links_that_bypass_the_redirect(self):
        t = self.mutated()
        del function_env(t["Resources"]["DashboardFunction"])["LINK_BASE_URL"]
        self.assertIn("no LINK_BASE_URL", " ".join(link_problems(t)))
        t = self.mutated()
        function_env(t["Resources"]["DashboardFunction"])["LINK_BASE_URL"]["Fn::If"][2] = {
            "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        }
        self.assertIn("is not the redirect function", " ".join(link_problems(t)))

    def test_no_secret_value_in_any_environment(self):
        self.assertEqual(secret_problems(self.t), [])

    def test_secret_check_catches_values_and_broad_grants(self):
        t = self.mutated()
        function_env(t["Resources"]["WebhookFunction"])["WEBHOOK_SECRETS"] = "whsec_live_0123456789"
        self.assertIn("a secret value in the environment", " ".join(secret_problems(t)))
        t = self.mutated()
        function_env(t["Resources"]["SignupFunction"])["IP_HASH_KEY_SECRET_ARN"] = (
            "{{resolve:secretsmanager:IpHashKeySecret}}"
        )
        self.assertIn("dynamic reference", " ".join(secret_problems(t)))
        t = self.mutated()
        function_env(t["Resources"]["RedirectFunction"])["IP_HASH_KEY_SECRET_ARN"] = {"Ref": "IpHashKeySecret"}
        self.assertIn("redirect function must read no secret", " ".join(secret_problems(t)))
        t = self.mutated()
        role = t["Resources"]["DashboardFunctionRole"]["Properties"]
        role["Policies"].append({"PolicyName": "x", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}})
        self.assertIn("grant exactly the secrets it names", " ".join(secret_problems(t)))

    def test_every_function_has_a_log_group_with_retention_and_an_errors_alarm(self):
        self.assertEqual(function_problems(self.t), [])
        self.assertGreaterEqual(len(resources(self.t, "AWS::Lambda::Function")), 9)

    def test_function_check_catches_a_function_without_logs_or_alarm(self):
        t = self.mutated()
        del t["Resources"]["RedirectFunction"]["Properties"]["LoggingConfig"]["LogGroup"]
        del t["Resources"]["SignupErrorsAlarm"]
        problems = " ".join(function_problems(t))
        self.assertIn("RedirectFunction has no LoggingConfig.LogGroup", problems)
        self.assertIn("SignupFunction has no errors alarm", problems)

    def test_apis_are_throttled_and_logged(self):
        self.assertEqual(api_problems(self.t), [])
        self.assertEqual(len(resources(self.t, "AWS::ApiGatewayV2::Stage")), 2)

    def test_api_check_catches_missing_throttling_and_logs(self):
        t = self.mutated()
        stage = t["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
        del stage["DefaultRouteSettings"]
        del stage["AccessLogSettings"]
        del stage["RouteSettings"]["POST /webhooks/payments"]
        problems = " ".join(api_problems(t))
        self.assertIn("no default throttling", problems)
        self.assertIn("no access logs", problems)
        self.assertIn("POST /webhooks/payments has no tighter throttling", problems)

    def test_alarms_notify_recovery_and_cover_every_queue_and_canary(self):
        self.assertEqual(alarm_problems(self.t), [])
        self.assertEqual(len(resources(self.t, "AWS::CodeDeploy::DeploymentGroup")), 5)

    def test_the_example_samconfig_is_complete_and_valid(self):
        path = os.path.join(os.path.dirname(TEMPLATE), "samconfig.example.toml")
        self.assertEqual(samconfig_problems(self.t, path), [])

    def test_alarm_check_catches_missing_ok_actions_and_queue_age(self):
        t = self.mutated()
        del t["Resources"]["Api5xxAlarm"]["Properties"]["OKActions"]
        del t["Resources"]["PartnerWebhookDLQAgeAlarm"]
        problems = " ".join(alarm_problems(t))
        self.assertIn("Api5xxAlarm needs AlarmActions and OKActions", problems)
        self.assertIn("queue PartnerWebhookDLQ has no oldest-message-age alarm", problems)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        TEMPLATE = sys.argv.pop(1)
    unittest.main(verbosity=1)
