# Touchpoint: `make run` brings everything up, `make test` installs, starts and tests everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint fmt unit test run stop schemas

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "missing: $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m touchpoint_devtools.contracts check

# The wire contract (contracts/): JSON Schema of each topic's key, headers and value and the
# AsyncAPI document, regenerated from the pydantic models. `make lint` fails when the models
# would break a consumer of the committed files (docs/contracts.md).
schemas: install
	$(BIN)/python -m touchpoint_devtools.contracts generate

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: install
	$(BIN)/pytest -q -m "not integration"

# The whole suite, unit and integration: the fixtures start a real broker and database
# (TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL select existing ones instead).
# pytest's exit code 5 ("no tests collected") fails like any other non-zero code.
# System tools some tests drive: chromium (the console's browser tests) and promtool (the alert
# rules' unit tests). Installed from Debian when missing and we may (root with apt-get);
# otherwise those tests skip and say why.
SYSTEM_TOOLS := /usr/bin/chromium:chromium /usr/bin/promtool:prometheus
tools:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  [ -x "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || echo "could not install$$missing: their tests will skip" >&2; \
	else echo "missing$$missing (not root or no apt-get): their tests will skip" >&2; fi

.PHONY: tools

# The Quix Streams app `make bench` compares the fold with, on an interpreter of its own:
# quixstreams pins pydantic below the version the services run on (bench/quix-requirements.txt).
QUIX_VENV := .venv-quix
$(QUIX_VENV)/.installed: bench/quix-requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "missing: $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/pip install -q --upgrade pip
	$(QUIX_VENV)/bin/pip install -q -r bench/quix-requirements.txt
	touch $@

quix: $(QUIX_VENV)/.installed

.PHONY: quix

test: install lint tools quix
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

# Broker (127.0.0.1:9092 when free), database (:5432 when free) and the three services
# (ingest :8001, profile :8002, recommend :8003). Ctrl-C, or `make stop` from another shell,
# stops all of it. The dev servers live in the development-only touchpoint_devtools package.
DEVSERVERS := $(BIN)/python -m touchpoint_devtools.devservers
run: install
	$(DEVSERVERS) run

stop:
	@if [ -x $(BIN)/python ]; then $(DEVSERVERS) stop; else echo "nothing to stop"; fi

# Ops. `make lag ARGS="--group touchpoint-profile --watch 5"`: consumer lag as a table, read from
# TOUCHPOINT_KAFKA_BOOTSTRAP when set, else from the profile service on :8002 (`make run`/`make up`).
LAG_SOURCE = $(if $(TOUCHPOINT_KAFKA_BOOTSTRAP),,--url http://127.0.0.1:8002)
lag: install
	$(BIN)/python -m touchpoint_common.ops.cli lag $(LAG_SOURCE) $(ARGS)

# The whole system in containers (deploy/docker-compose.yml): Kafka, PostgreSQL, the three
# services, Prometheus (:9090) and Grafana (:3000) with the Touchpoint dashboard.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_ARGS = -p touchpoint -f deploy/docker-compose.yml
up:
	$(COMPOSE) $(COMPOSE_ARGS) up -d --build
	@echo "Grafana http://localhost:3000  Prometheus http://localhost:9090  services :8001 :8002 :8003"

down:
	$(COMPOSE) $(COMPOSE_ARGS) down

.PHONY: lag up down

# Recommend: synthetic customers answer offers; learned strategy vs fixed-priority holdout.
# `make simulate ARGS="--rounds 10000 --seed 3"`.
simulate: install
	$(BIN)/python -m touchpoint_devtools.simulate $(ARGS)

.PHONY: simulate

# Profile: replay the interactions topic into a fresh projection table and swap it in.
# `make rebuild ARGS="--since 2026-08-01T00:00:00+00:00"` (default: the start of the window).
rebuild: install
	$(BIN)/python -m touchpoint_profile.rebuild $(ARGS)

.PHONY: rebuild

# Profile: run the base-wide ranking job once now (cut points, ABC, CLV fit, figures), store it
# as the newest version and publish it on the rankings topic. It also runs on a schedule inside
# the profile service (TOUCHPOINT_RANKING_INTERVAL_S).
rank: install
	$(BIN)/python -m touchpoint_profile.ranking $(ARGS)

.PHONY: rank

# Keys: after deploying a new current PII key (the old one kept under its id in
# TOUCHPOINT_PII_KEKS_OLD / TOUCHPOINT_PII_HMAC_KEYS_OLD), rewrap data keys and re-digest
# identifiers under it; then the old key can be removed. `make rotate-keys ARGS="kek"`.
rotate-keys: install
	$(BIN)/python -m touchpoint_common.identity.rotate $(ARGS)

.PHONY: rotate-keys

# Ingest: realistic mixed traffic (POS baskets, web sessions with logins, calls, complaints,
# store visits, offer responses) posted to a running ingest (`make run` in another shell).
# POS events go through the POS client (clients/pos): one outbox per store in .touchpoint/tills.
# `make demo ARGS="--customers 500 --rate 100 --duration 60 --seed 7"`.
INGEST_URL ?= http://localhost:8001
demo: install
	@curl -sf $(INGEST_URL)/readyz >/dev/null || { echo "ingest is not ready at $(INGEST_URL): start it with 'make run'" >&2; exit 1; }
	@[ -n "$$TOUCHPOINT_API_KEY" ] || [ -s .touchpoint/api-key ] || { echo "no API key: 'make run' writes .touchpoint/api-key, or set TOUCHPOINT_API_KEY" >&2; exit 1; }
	$(BIN)/python -m touchpoint_devtools.generator --url $(INGEST_URL) --customers 200 --rate 50 --duration 30 --seed 42 --tills .touchpoint/tills $(ARGS)

.PHONY: demo

# The POS client's CLI on an outbox: `make pos ARGS="status --outbox .touchpoint/tills/SH-023.sqlite3"`
# (status, show, flush, rejected, record; `touchpoint-pos` when installed from clients/pos).
pos: install
	$(BIN)/python -m touchpoint_pos $(ARGS)

.PHONY: pos

# API keys on the database of TOUCHPOINT_DATABASE_URL (docs/security.md):
# `make keys ARGS="create --name 'till 12' --scope events:write --store 12 --event-type purchase"`,
# `make keys ARGS=list`, `make keys ARGS="rotate <key id>"`, `make keys ARGS="revoke <key id>"`.
keys: install
	$(BIN)/python -m touchpoint_common.access keys $(ARGS)

.PHONY: keys

# Speed and memory figures (ingest, profile, recommend) on real servers started like the tests'
# (TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL reuse running ones); prints a table and
# writes bench/results.json. Reported, never asserted. `make bench ARGS="--quick"`: a smoke run.
bench: install quix
	$(BIN)/python -m bench.run $(ARGS)

.PHONY: bench

# One to two minutes: the bench's sections end to end in quick mode on the test servers (the
# ingest harness, archaeology, the producer perf test and the Quix app, the open-loop
# generator); asserts no timing; part of `make test` through tests/integration/bench.
# `python -m bench.ingest_load --help` for the full ingest measurement (runs, workers, py-spy).
bench-smoke: install quix
	$(BIN)/pytest -q tests/integration/bench

.PHONY: bench-smoke

# Reliability: a private broker, database and the three services under steady generator load;
# kill -9 ingest / the profile consumer / the recommend learner, restart Kafka, stop PostgreSQL
# (30 s), then check every customer's view against the 2xx the client got. Exit 1 on any mismatch.
# `make chaos ARGS="--faults 50 --duration 900 --rate 40"` (see docs/operations.md).
chaos: install
	$(BIN)/python -m touchpoint_devtools.chaos $(ARGS)

.PHONY: chaos
