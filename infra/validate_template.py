#!/usr/bin/env python3
"""Validate template.yaml offline: run the real SAM transform, then cfn-lint the result.

cfn-lint alone does not expand AWS::Serverless resources, so it misses bad Events, misspelt
SAM properties and wrong runtimes. The SAM translator catches those; cfn-lint then checks
the expanded CloudFormation. Usage: validate_template.py [template.yaml]
"""
import json
import logging
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Offline there is no feature-toggle config: the translator warns once per DeploymentPreference
# that it uses the defaults, which is what we want.
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs; we reference none by name."""

    def load(self):
        return {}


class TemplateError(Exception):
    pass


def expand(path: str) -> dict:
    """The SAM template at `path`, transformed to plain CloudFormation (what AWS deploys)."""
    with open(path, encoding="utf-8") as fh:
        template = yaml_parse(fh.read())
    for name, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            props = res.setdefault("Properties", {})
            code_dir = props.get("CodeUri", "")
            if not os.path.isfile(os.path.join(os.path.dirname(path) or ".", code_dir, "Cargo.toml")):
                raise TemplateError(f"{name}: CodeUri {code_dir!r} has no Cargo.toml")
            # `sam build` replaces CodeUri with the built artifact; the translator wants S3.
            props["CodeUri"] = "s3://placeholder/code.zip"
    try:
        return transform(template, {}, NoManagedPolicies())
    except Exception as err:  # the translator raises one exception listing every problem
        raise TemplateError(f"SAM transform failed: {err}") from err


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    try:
        expanded = expand(path)
    except TemplateError as err:
        print(err, file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(expanded, out)
    lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    code = 0
    # The translator inlines parameter values into some properties (e.g. CORS origins), so
    # "parameter not used" (W2001) is only meaningful on the original template.
    for target, extra in ((path, []), (out.name, ["--ignore-checks=W2001"])):
        result = subprocess.run([lint, *extra, target])
        code = code or result.returncode
    os.unlink(out.name)
    if code == 0:
        print(f"{path}: SAM transform and cfn-lint clean")
    return code


if __name__ == "__main__":
    sys.exit(main())
