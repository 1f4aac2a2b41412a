# Two commands do the whole set-up on a fresh Debian machine with Python 3.11:
#   make run   - serve every HTTP function on http://127.0.0.1:8080 (embedded backends + clamd)
#   make dev   - the same functions against fake-gcs-server, the Firestore and Pub/Sub emulators
#   make test  - lint, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

# Local defaults; every one can be overridden from the environment.
export AUTH_MODE ?= dev
export AUTH_DEV_SECRET ?= local-dev-secret-do-not-deploy-0123456789
export WORKSPACE_STORAGE_DIR ?= Runtime
export PORT ?= 8080

.PHONY: dev run test lint fmt bench bench-scan system-deps venv clean token sweep

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

system-deps:
	@bash localdev/install-system-deps.sh

run: system-deps venv
	$(PY) -m localdev.server

dev: system-deps venv
	$(PY) -m localdev.dev

token: venv
	@$(PY) -m localdev.token $${USER_ID:-alice}

sweep: venv
	$(PY) -m localdev.sweep

lint: venv
	$(VENV)/bin/ruff check .

fmt: venv
	$(VENV)/bin/ruff format .

test: system-deps venv lint
	$(PY) -m pytest

bench: system-deps venv
	$(PY) -m bench.upload_memory

bench-scan: system-deps venv
	$(PY) -m bench.scan_front

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
