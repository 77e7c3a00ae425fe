# Precis: the two commands are `make demo` and `make test`; everything else supports them.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export OPENBLAS_NUM_THREADS := 1
# uv is installed from PyPI into the user's Python when it is not on PATH.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
STATE_DIR ?= .precis
PROTO_FILES := $(shell find proto -name '*.proto' | sort)
CONTRACTS := libs/contracts/src

.PHONY: help install demo up down status test test-slow test-fast lint typecheck proto proto-check buf-lint check deploy-check clean bench

help:
	@echo "make demo   - install, start the suite (SQLite), load the CDNOW log through REST, show profiles"
	@echo "make test   - every test (SQLite and PostgreSQL), lint, types, contract checks"
	@echo "make up / make down / make status - start / stop / inspect the local suite"

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.8"
	$(UV) sync --all-packages --frozen

demo: install
	$(UV) run --frozen python -m precis_devstack demo --state-dir $(STATE_DIR)

up: install
	$(UV) run --frozen python -m precis_devstack up --state-dir $(STATE_DIR)

down:
	$(UV) run --frozen python -m precis_devstack down --state-dir $(STATE_DIR)

status:
	$(UV) run --frozen python -m precis_devstack status --state-dir $(STATE_DIR)

proto: install
	rm -rf $(CONTRACTS)/precis
	$(UV) run --frozen python -m grpc_tools.protoc -Iproto \
		--python_out=$(CONTRACTS) --pyi_out=$(CONTRACTS) --grpc_python_out=$(CONTRACTS) $(PROTO_FILES)

# Regenerates the contracts and fails if the committed code differs (stale or hand-edited).
proto-check: proto
	@git add -N $(CONTRACTS) >/dev/null 2>&1 || true
	@git diff --exit-code --stat -- $(CONTRACTS) || (echo "libs/contracts is stale: run 'make proto' and commit" && exit 1)

buf-lint:
	npm ci --silent --no-audit --no-fund
	npx --no-install buf lint

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy libs/common/src libs/uplift/src libs/client/src libs/devstack/src services/ingestion/src services/profile/src services/consent/src services/segmentation/src services/recommendation/src services/measurement/src gateway/src

deploy-check: install
	$(UV) run --frozen pytest -q tests/deploy

check: proto-check buf-lint lint typecheck

test: install check
	$(UV) run --frozen pytest -q

# Full-size real-data runs left out of `make test` (marker `slow`): MovieLens 100k through the
# gateway, dmba's Voter-Persuasion campaign.
test-slow: install
	$(UV) run --frozen pytest -q -m slow

# Benchmarks of the real processes and the CLV fit: writes tests/bench/results.json and RESULTS.md
# (full sizes, 2-3 minutes on 2 cores). BENCH_ARGS=--quick: seconds, written under .precis/bench.
# Then consent checks (consent.json) and data-subject export and erasure (privacy.json, which
# adds section 5 to RESULTS.md); then segmentation rules against hand-written SQL on PostgreSQL
# (127.0.0.1:5432, 1M profiles / 10M events: 15-30 minutes) and membership freshness
# (segmentation.json, section 6); then recommendation: fit overhead against implicit, a training
# job, model memory and serving latency through the gateway (recommendation.json, ~10 minutes);
# then measurement: assignment throughput and a report over 1M assigned profiles and 10M events
# on SQLite and PostgreSQL (measurement.json, ~22 minutes, mostly loading the data).
bench: install
	$(UV) run --frozen python -m tests.bench $(BENCH_ARGS)
	$(UV) run --frozen python -m tests.bench.bench_consent
	$(UV) run --frozen python -m tests.bench.bench_privacy
	$(UV) run --frozen python -m tests.bench.bench_segmentation
	$(UV) run --frozen python -m tests.bench.bench_recommendation
	$(UV) run --frozen python -m tests.bench.bench_measurement

clean:
	rm -rf $(STATE_DIR)
