# Touchpoint: `make run` brings everything up, `make test` installs, starts and tests everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint fmt unit test run stop

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "missing: $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: install
	$(BIN)/pytest -q -m "not integration"

# The whole suite, unit and integration: the fixtures start a real broker and database
# (TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL select existing ones instead).
# pytest's exit code 5 ("no tests collected") fails like any other non-zero code.
test: install lint
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

# Broker, database and the three services (ingest :8001, profile :8002, recommend :8003).
# Ctrl-C, or `make stop` from another shell, stops all of it.
run: install
	$(BIN)/touchpoint-devservers run

stop:
	@if [ -x $(BIN)/touchpoint-devservers ]; then $(BIN)/touchpoint-devservers stop; \
	else echo "nothing to stop"; fi
