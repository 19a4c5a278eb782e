# Two commands for a newcomer: `make dev` (run the system locally) and `make test` (everything CI runs).
# Both bootstrap what they need: a git-ignored Python venv with moto, cargo-lambda and cfn-lint.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# cargo finds the `cargo-lambda` subcommand shipped by the PyPI wheel through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test check browser dev demo clean-local

$(VENV)/.installed: infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

venv: $(VENV)/.installed

## Static checks: formatting, SAM template (transform + cfn-lint), clippy.
check: venv
	cargo fmt --all --check
	$(PY) infra/validate_template.py template.yaml
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

clean-local:
	rm -rf .local
