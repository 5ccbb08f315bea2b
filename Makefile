# The README's commands. Everything runs from the project's own virtualenv in .venv,
# created here: nothing relies on packages installed by hand.
#
#   make demo   set up, then import the sample lead list, enrich it, show its status, export it
#   make ui     set up, then open the Dagster UI (webserver and daemon) on 127.0.0.1:$(UI_PORT)
#   make test   set up with the dev extra, type-check, and run the whole test suite
#   make lint   ruff check and format check, and the type check
#   make typecheck  mypy over lead_pipeline/ (configured in pyproject.toml)
#   make cluster-demo  PostgreSQL, Redis and two Celery workers on this machine, the demo
#                      chain run on them, then everything stopped (docs/deployment.md)
#   make dev    only the environment with the dev extra (tests, benchmarks)
#   make lock   re-resolve every version into constraints.txt (after editing dependencies)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependencies may have changed. The demo and the UI need the
# package alone; tests, lint and benchmarks need the dev extra (PostgreSQL drivers, the
# Celery and Kubernetes executors, pytest, ruff): each has its own stamp.
STAMP := $(VENV)/.installed-lead-pipeline
DEV_STAMP := $(VENV)/.installed-lead-pipeline-dev
# Every target installs the versions locked in constraints.txt, so `make demo` and
# `make test` share one Dagster (a UI started by one kept working while the other
# installed). uv installs them: pip took 54-101 s for the first `make demo`'s install.
# pip only installs uv itself; `pip install -c constraints.txt -e .` installs the same set.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# --compile-bytecode: uv, unlike pip, writes no .pyc files by default, and where
# PYTHONDONTWRITEBYTECODE is set (Docker images, CI machines, this project's) Python
# never writes them either, so every process compiled Dagster, pandas and SQLAlchemy
# from source: 4.5 CPU-s to import them against 1.8 s from bytecode, paid by the
# command, the step server and each step. Measured on a fresh clone at load 13-17:
# `make demo` took 26.3 CPU-s without bytecode; with it, the compile costs 19.5 CPU-s
# once (on both cores) and the demo 10.1 CPU-s, and every later command keeps the saving.
UV_INSTALL := $(UV) pip install --compile-bytecode --python $(BIN)/python -c constraints.txt
PYTEST_ARGS ?=
# Test processes (pytest-xdist). Most end-to-end tests wait on Dagster runs, servers and
# daemons more than they compute, so three keep a 2-core machine busy. Tests are handed
# out one at a time in order, longest first (conftest.py): in chunks, one process was
# given several long tests in a row and ran them alone at the end.
TEST_WORKERS ?= 3
UI_PORT ?= 3000

.PHONY: setup dev demo ui test lint typecheck cluster-demo lock

setup: $(STAMP)
dev: $(DEV_STAMP)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lead-pipeline needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")'
	@echo "Creating the virtualenv in $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)

$(UV): | $(VENV)/bin/python
	@echo "Installing uv $(UV_VERSION) into $(VENV) with pip (uv installs the rest)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on uv==$(UV_VERSION)

# The editable package itself is compiled too (0.12-0.15 CPU-s a process where
# PYTHONDONTWRITEBYTECODE is set); a module edited later is compiled in memory as usual.
$(STAMP): pyproject.toml constraints.txt | $(UV)
	@echo "Installing lead-pipeline and what it runs into $(VENV), the versions of constraints.txt (first time only)"
	$(UV_INSTALL) -e .
	@$(BIN)/python -m compileall -q lead_pipeline
	@touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(UV)
	@echo "Installing lead-pipeline with the dev extra (tests, lint, PostgreSQL, Celery, Kubernetes) into $(VENV), the versions of constraints.txt"
	$(UV_INSTALL) -e ".[dev]"
	@$(BIN)/python -m compileall -q lead_pipeline
	@touch $@ $(STAMP)

# Every extra's versions, for every platform, from Python 3.11 on. --upgrade takes the
# newest versions the pins in pyproject.toml allow.
lock: | $(UV)
	$(UV) pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--custom-compile-command "make lock" --annotation-style line --upgrade -o constraints.txt

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

# The type check runs first: CI runs `make test`, so a type error fails CI.
# pytest exits 5 when it collected no tests: that is a failure, not a pass.
test: dev typecheck
	@$(BIN)/pytest -q -n $(TEST_WORKERS) --maxschedchunk 1 $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest ran no tests" >&2; exit 1; fi; \
	exit $$status

lint: dev typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev
	$(BIN)/mypy

# Needs PostgreSQL 15's server binaries and redis-server (Debian: postgresql-15 redis-server).
cluster-demo: dev
	PYTHON=$(BIN)/python deploy/cluster-demo/run.sh
