# The README's commands. Everything runs from the project's own virtualenv in .venv,
# created here: nothing relies on packages installed by hand.
#
#   make demo   set up, import the sample lead list and show its status
#   make test   set up and run the whole test suite
#   make lint   ruff check and format check

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependencies may have changed.
STAMP := $(VENV)/.installed-lead-pipeline
PYTEST_ARGS ?=

.PHONY: setup demo test lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lead-pipeline needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: setup
	$(BIN)/lead-pipeline import data/leads/yc-f25.json --lead yc-f25
	$(BIN)/lead-pipeline status --lead yc-f25

# pytest exits 5 when it collected no tests: that is a failure, not a pass.
test: setup
	@$(BIN)/pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest ran no tests" >&2; exit 1; fi; \
	exit $$status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
