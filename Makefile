# Two commands do the whole set-up on a fresh Debian machine with Python 3.11:
#   make run   - serve every HTTP function on http://127.0.0.1:8080 (embedded backends + clamd)
#   make dev   - the same functions against fake-gcs-server, the Firestore and Pub/Sub emulators
#   make test  - lint, the infra checks, then the test suite
#   make infra-check - routes file current, terraform fmt (where installed), checkov on infra/
#   make rescan - rescan files scanned with older signatures (after a signature update)
#   make web   - build the web app (web/dist) if a source or the lockfile changed
#   make mutation - mutmut over the security-critical modules; writes tests/MUTATION.md (not CI)
#   make schemathesis - a long Schemathesis run against the embedded server (SCHEMATHESIS_MAX_EXAMPLES)
#   make bench - the scale benchmark: one table, bench/results/*.json (bench-quick: ~3 minutes)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CLIENT_META := client/pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt $(CLIENT_META) | sha1sum | cut -c1-12)

# Local defaults; every one can be overridden from the environment.
export AUTH_MODE ?= dev
export AUTH_DEV_SECRET ?= local-dev-secret-do-not-deploy-0123456789
export WORKSPACE_STORAGE_DIR ?= Runtime
export PORT ?= 8080
# Server processes for `make run`: one per CPU (at most 4), sharing the storage dir.
RUN_WORKERS ?= auto

.PHONY: dev run test lint fmt bench bench-quick bench-scan bench-web system-deps venv clean token sweep checkov infra-check infra-routes web mutation mutation-deps schemathesis rescan

$(STAMP): requirements.txt requirements-dev.txt $(CLIENT_META)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# checkov gets its own venv: its dependencies clash with the project's pins.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell sha1sum requirements-checkov.txt | cut -c1-12)

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

checkov: $(CHECKOV_STAMP)

# Offline checks of infra/ (providers can't be downloaded, so no terraform validate);
# the HCL wiring itself is checked by tests/test_infra_*.py.
infra-check: venv checkov
	$(PY) -m infra.gen_routes --check
	@if command -v terraform >/dev/null 2>&1; then \
	  TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff infra && echo "terraform fmt: clean"; \
	else echo "terraform is not installed: skipping terraform fmt -check"; fi
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra --framework terraform \
	  --skip-download --quiet --compact

# Re-render infra/routes.tf.json after changing shared/routes.py.
infra-routes: venv
	$(PY) -m infra.gen_routes

system-deps:
	@bash localdev/install-system-deps.sh

# npm ci when web/package-lock.json changed, then node build.mjs when a source changed
# (the same check the server makes on start).
web: system-deps venv
	$(PY) -m localdev.server --build-web

run: system-deps venv web
	$(PY) -m localdev.server --workers $(RUN_WORKERS)

dev: system-deps venv web
	$(PY) -m localdev.dev

token: venv
	@$(PY) -m localdev.token $${USER_ID:-alice}

sweep: venv
	$(PY) -m localdev.sweep

rescan: venv
	$(PY) -m localdev.rescan

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

fmt: venv
	$(VENV)/bin/ruff format .

# Two workers (pytest-xdist): most tests wait on real processes (clamd, the emulators,
# servers), so two cores serve two at once. --dist loadscope keeps a module's (or class's)
# tests on one worker, so module fixtures start once; each worker starts its own session
# services on free ports. Scopes go out longest first (tests/scheduling.py orders them;
# --no-loadscope-reorder keeps that order). TEST_WORKERS=0 runs in this process, in order.
TEST_WORKERS ?= 2
test: system-deps venv lint infra-check web
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder)

# Schemathesis alone, longer than make test's run: SCHEMATHESIS_MAX_EXAMPLES examples per
# operation and phase (default 500), against a fresh embedded server (tests/test_schemathesis.py).
schemathesis: system-deps venv
	SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-500} \
	SCHEMATHESIS_TIMEOUT=$${SCHEMATHESIS_TIMEOUT:-7200} \
	  $(PY) -m pytest -p no:cacheprovider tests/test_schemathesis.py

# The scale benchmark (bench/run.py): one table, a JSON artefact in bench/results/. The full
# run (<= 20 minutes) also runs the older media/upload benchmarks; bench-quick takes ~3 minutes.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--source /path/to/old-checkout --label before".
bench: system-deps venv web
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: system-deps venv web
	$(PY) -m bench.run --quick $(BENCH_ARGS)

bench-scan: system-deps venv
	$(PY) -m bench.scan_front

bench-web: system-deps venv web
	$(PY) -m bench.web_first_render

# Mutation testing: one target per module (tests/mutation/__init__.py names each module and
# the tests that guard it), then the report. Each module runs in .mutation/<name>/.
MUTATION_MODULES := clamd http digest ingest finalize auth jwks signing gcs-signing memory \
	truncation netpolicy
MUTATION_TARGETS := $(addprefix mutation-,$(MUTATION_MODULES))
MUTATION_STAMP := $(VENV)/.mutation-$(shell sha1sum requirements-mutation.txt | cut -c1-12)
.PHONY: $(MUTATION_TARGETS) mutation-hand

$(MUTATION_STAMP): requirements-mutation.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-mutation.txt
	@rm -f $(VENV)/.mutation-* && touch $@

mutation-deps: system-deps $(MUTATION_STAMP)

$(MUTATION_TARGETS): mutation-%: mutation-deps
	$(PY) -m tests.mutation run $*

mutation-hand: mutation-deps
	$(PY) -m tests.mutation hand

mutation: $(MUTATION_TARGETS) mutation-hand
	$(PY) -m tests.mutation report

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache infra/.build client/build web/node_modules \
	  web/dist web/emulator/node_modules .mutation
