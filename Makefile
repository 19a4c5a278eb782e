# Two commands for a newcomer: `make dev` (run the system locally) and `make test` (everything CI runs).
# Both bootstrap what they need: a git-ignored Python venv with moto, cargo-lambda and cfn-lint.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# cargo finds the `cargo-lambda` subcommand shipped by the PyPI wheel through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test check browser dev demo soak sim scale bench clean-local

$(VENV)/.installed: infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

venv: $(VENV)/.installed

## Static checks: formatting, the core crate's dependency boundary (no AWS, Lambda, HTTP or
## reqwest crate in referral-core), SAM template (transform + cfn-lint, then the deploy-readiness
## checks on the transformed template: infra/test_template.py), OpenAPI document, the docs
## (every relative link in README.md and docs/ resolves, README ≤ 200 lines, docs/api/README.md =
## infra/openapi.yaml), our Stripe-Signature headers against Stripe's own library (offline), clippy.
check: venv
	cargo fmt --all --check
	@if cargo tree -p referral-core -e normal --prefix none --locked | grep -Ei '^(aws|lambda|reqwest|hyper|http|tower)[-_ ]'; then \
		echo "referral-core must not depend on AWS, Lambda or HTTP crates (above)"; exit 1; \
	else echo "referral-core: no AWS, Lambda or HTTP dependency"; fi
	$(PY) infra/validate_template.py template.yaml
	$(PY) infra/test_template.py template.yaml
	$(PY) -c 'import yaml, openapi_spec_validator as v; v.validate(yaml.safe_load(open("infra/openapi.yaml"))); print("infra/openapi.yaml: valid OpenAPI 3.1")'
	$(PY) infra/check_docs.py
	$(PY) infra/stripe_signature_check.py
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

## The money core's deterministic simulation with any number of schedules (`make sim SEEDS=100000`,
## from `SEED_START`); a failure prints its seed, replayed with SIM_SEED=<n>. `make test` runs 2,000.
SEEDS ?= 20000
SEED_START ?= 0
sim:
	SIM_SEEDS=$(SEEDS) SIM_SEED_START=$(SEED_START) cargo test --release --locked -p referral-core --test simulation -- --nocapture

## Benchmarks (criterion hot paths, release binary sizes, cold start); rewrites docs/BENCHMARKS.md.
## The scale model: per-partition write load of the money path at 1k and 10k credited top-ups/s,
## from the real key layout and transaction builder (docs/SCALING.md).
scale:
	cargo test --locked -p adapters scale_model -- --nocapture

bench: venv
	bash infra/bench.sh

clean-local:
	rm -rf .local
