# loanrisk: real-time loan-risk decisions on Kafka. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z][a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with dev tools

up: $(STAMP) ## start Kafka (KRaft), Redis and the ClickHouse schema; idempotent
	$(BIN)/loanrisk services up

down: $(STAMP) ## stop the services started by `make up` (data kept in .loanrisk/)
	$(BIN)/loanrisk services down

status: $(STAMP) ## show service health
	$(BIN)/loanrisk services status

test: $(STAMP) ## the whole test suite on real Kafka, Redis and ClickHouse (starts and stops them)
	$(BIN)/pytest $(PYTEST_ARGS)

test-quick: $(STAMP) ## fast subset: skips tests marked slow
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit tests only (no services)
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP) ## benchmarks with same-run baselines (starts the local services; `make down` after)
	$(BIN)/loanrisk services up
	$(BIN)/python -m bench

demo: $(STAMP) ## the main job: services, champion model, workers, sink, a minute of live traffic, summary
	$(BIN)/loanrisk demo

clean: ## stop services and delete .loanrisk/ state (models, data, logs)
	-$(BIN)/loanrisk services down
	rm -rf .loanrisk

.PHONY: help install up down status test test-quick test-unit lint bench demo clean
