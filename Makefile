# Two commands for a newcomer: `make dev` (run the system locally) and `make test` (everything CI runs).
# Both bootstrap what they need: a git-ignored Python venv with moto, cargo-lambda and cfn-lint.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# cargo finds the `cargo-lambda` subcommand shipped by the PyPI wheel through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test check browser dev demo soak bench clean-local

$(VENV)/.installed: infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

venv: $(VENV)/.installed

## Static checks: formatting, SAM template (transform + cfn-lint, then the deploy-readiness
## checks on the transformed template), OpenAPI document, clippy.
check: venv
	cargo fmt --all --check
	$(PY) infra/validate_template.py template.yaml
	$(PY) infra/test_template.py template.yaml
	$(PY) -c 'import yaml, openapi_spec_validator as v; v.validate(yaml.safe_load(open("infra/openapi.yaml"))); print("infra/openapi.yaml: valid OpenAPI 3.1")'
	cargo clippy --workspace --all-targets --locked -- -D warnings

## Every test: unit tests, end-to-end tests against moto + the fake Wellflow, browser tests.
test: check
	cargo test --workspace --locked
	$(MAKE) browser

## Headless Chromium (Debian's package, installed when missing): ref.js + the Referrals page,
## against the stub API and against the real dashboard handler with seeded data.
browser:
	bash tests/browser/run.sh
	bash tests/browser/real-dashboard.sh

## The local stack: moto, schema from template.yaml, fake Wellflow, cargo lambda watch. Ctrl-C stops it.
dev: venv
	bash infra/dev.sh

## The product's scenarios end to end against a running `make dev` (run it in another terminal).
demo: venv
	$(PY) infra/demo.py

## Long reliability run (opt-in): thousands of top-ups with duplicates, Wellflow faults and DynamoDB blips.
soak: venv
	cargo test -p integration-tests --test soak -- --ignored --nocapture

## Benchmarks (criterion hot paths, release binary sizes, cold start); rewrites BENCHMARKS.md.
bench: venv
	bash infra/bench.sh

clean-local:
	rm -rf .local
