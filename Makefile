# AI Commons: `make run` starts the facility, `make test` passes the tests. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export AICOMMONS_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test bench lint install install-test system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

system-deps:
	@bash scripts/install-system-deps.sh

run: install
	$(BIN)/aicommons db upgrade
	$(BIN)/aicommons demo seed
	@echo
	@echo "Portal: http://$${AICOMMONS_HOST:-127.0.0.1}:$${AICOMMONS_PORT:-8000}  (API docs at /docs)"
	@$(BIN)/aicommons demo logins
	$(BIN)/aicommons serve

test: install-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test system-deps
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/review_assignment.py
	$(BIN)/python benchmarks/usage_ingest.py

lint: install-test
	$(BIN)/ruff check src tests benchmarks migrations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
