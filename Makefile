# coachbot developer tasks. `make test` is what CI runs (via .ci/run).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_WAIT_SECONDS ?= 30

PYTEST_ARGS ?=
# Test processes (pytest-xdist). Most tests wait on sockets, fake latencies and child processes,
# so four workers on two cores halve the suite's wall time (10.7 -> 4.8 min measured here).
PYTEST_WORKERS ?= 4
# Idle workers take pending tests from busy ones: the suite's 5-11 s fault tests no longer end
# the run on one worker while the others wait (tests/faults and three long files, -n 2: 108-117 s
# with the default "load", 77-98 s with "worksteal").
PYTEST_DIST ?= worksteal

.PHONY: test test-faults demo try chromium lint format bench bench-full serve migrate clean postgres venv

# The virtualenv itself.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# (Re)install the project + dev extras whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade pip
	# --no-compile: byte-compiling every installed module (botocore, sympy, matplotlib…) took ~25 of
	# the ~65 s; Python compiles the few hundred the app and tests import on first use (<1 s).
	$(BIN)/pip install --no-compile -e '.[dev]'
	touch $@

venv: $(STAMP)

test: $(STAMP) postgres chromium
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) $(PYTEST_ARGS)

# The fault suite alone (tests/faults: real replicas, a private PostgreSQL); `make test` runs it too.
test-faults: $(STAMP) postgres
	$(BIN)/python -m pytest -q tests/faults $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/coachbot demo

# A local Slack in the browser with the real app (a real model when OPENAI_API_KEY is set).
try: $(STAMP)
	$(BIN)/coachbot try

serve: $(STAMP)
	$(BIN)/coachbot serve

migrate: $(STAMP)
	$(BIN)/coachbot migrate

# Benchmarks (bench/, docs/PERFORMANCE.md); never part of `make test`. Every scenario is time-bounded.
BENCH_ARGS ?=
PG_BENCH_URL ?= postgresql://postgres@$(PG_HOST):$(PG_PORT)/postgres

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# What docs/PERFORMANCE.md reports: both databases at 1M messages, then the large-database scenario.
bench-full: $(STAMP) postgres
	$(BIN)/python -m bench --seed-messages 1000000 $(BENCH_ARGS)
	$(BIN)/python -m bench --seed-messages 1000000 --database-url $(PG_BENCH_URL) $(BENCH_ARGS)
	$(BIN)/python -m bench.storage_lookup --postgres-url $(PG_BENCH_URL)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Make sure PostgreSQL answers on $(PG_HOST):$(PG_PORT); start it (installing it first if needed).
postgres:
	@pg_up() { \
	  if command -v pg_isready >/dev/null 2>&1; then \
	    pg_isready -q -h $(PG_HOST) -p $(PG_PORT); \
	  else \
	    (exec 3<>/dev/tcp/$(PG_HOST)/$(PG_PORT)) 2>/dev/null; \
	  fi; \
	}; \
	if pg_up; then echo "postgres: accepting connections on $(PG_HOST):$(PG_PORT)"; exit 0; fi; \
	if [ ! -d /etc/postgresql ]; then \
	  echo "postgres: not installed; installing with apt-get"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	fi; \
	version=$$(ls /etc/postgresql | sort -V | tail -n 1); \
	if [ -z "$$version" ]; then echo "postgres: ERROR: no cluster version under /etc/postgresql" >&2; exit 1; fi; \
	echo "postgres: starting cluster $$version/main"; \
	pg_ctlcluster --skip-systemctl-redirect "$$version" main start \
	  || echo "postgres: pg_ctlcluster start returned non-zero (maybe already starting); waiting anyway" >&2; \
	for _ in $$(seq 1 $(PG_WAIT_SECONDS)); do \
	  if pg_up; then echo "postgres: accepting connections on $(PG_HOST):$(PG_PORT)"; exit 0; fi; \
	  sleep 1; \
	done; \
	echo "postgres: ERROR: nothing answers on $(PG_HOST):$(PG_PORT) after $(PG_WAIT_SECONDS)s" >&2; \
	tail -n 20 "/var/log/postgresql/postgresql-$$version-main.log" >&2 || true; \
	exit 1

# The browser tests drive Debian's headless chromium; install it when missing (as for PostgreSQL).
chromium:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; exit 0; fi; \
	echo "chromium: not installed; installing with apt-get"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -f *.db *.db-wal *.db-shm
