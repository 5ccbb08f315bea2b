# The README's commands. Everything runs from the project's own virtualenv in .venv,
# created here: nothing relies on packages installed by hand.
#
#   make demo   set up, then import the sample lead list, enrich it, show its status, export it
#   make ui     set up, then open the Dagster UI (webserver and daemon) on 127.0.0.1:$(UI_PORT)
#   make test   set up and run the whole test suite
#   make lint   ruff check and format check
#   make cluster-demo  PostgreSQL, Redis and two Celery workers on this machine, the demo
#                      chain run on them, then everything stopped (docs/deployment.md)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependencies may have changed.
STAMP := $(VENV)/.installed-lead-pipeline
PYTEST_ARGS ?=
UI_PORT ?= 3000

.PHONY: setup demo ui test lint cluster-demo

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lead-pipeline needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# The whole chain with the embedded defaults: b2b_only runs offline (the LLM pass only
# when a key is set); founder_linkedin runs when a search key is set, else says so.
demo: setup
	$(BIN)/lead-pipeline import data/leads/yc-f25.json --lead yc-f25
	$(BIN)/lead-pipeline enrich --lead yc-f25 --workflow all
	$(BIN)/lead-pipeline status --lead yc-f25
	$(BIN)/lead-pipeline export --lead yc-f25 --format csv

# `dagster dev` (webserver and daemon) on the persistent instance under data/ (or
# $DAGSTER_HOME), the same one the command line uses. Writing the instance's
# dagster.yaml and pool limits first is what instance() does.
ui: setup
	@home="$$($(BIN)/python -c 'import os; from lead_pipeline.defs.partitions import instance; instance(); print(os.environ["DAGSTER_HOME"])')" && \
	echo "Dagster UI on http://127.0.0.1:$(UI_PORT) (instance: $$home); Ctrl-C stops it" && \
	DAGSTER_HOME="$$home" exec $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

# pytest exits 5 when it collected no tests: that is a failure, not a pass.
test: setup
	@$(BIN)/pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest ran no tests" >&2; exit 1; fi; \
	exit $$status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Needs PostgreSQL 15's server binaries and redis-server (Debian: postgresql-15 redis-server).
cluster-demo: setup
	PYTHON=$(BIN)/python deploy/cluster-demo/run.sh
