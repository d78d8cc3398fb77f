# `make run` and `make test` bootstrap .venv on first use; nothing else needs installing by hand.
SHELL := /bin/bash
PYTHON_FOR_VENV ?= $(shell for v in 3.12 3.13 3.11; do \
	p=$$(command -v python$$v || ls $$HOME/.pyenv/versions/$$v*/bin/python$$v 2>/dev/null | tail -n1); \
	if [ -n "$$p" ]; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: need Python >= 3.11 (python3.12 or python3.11 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	@touch $(STAMP)

## Start Temporal's dev server (Web UI on :8233) and a billhook worker; Ctrl-C stops both.
run: $(STAMP)
	BILLHOOK_ENVIRONMENT=development BILLHOOK_ALLOWED_NETWORKS=127.0.0.0/8,::1/128 \
		$(BIN)/python worker.py --dev

## Lint, type-check and run the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .data
