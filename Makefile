# `make run` and `make test` bootstrap .venv on first use; nothing else needs installing by hand.
SHELL := /bin/bash
PYTHON_FOR_VENV ?= $(shell for v in 3.12 3.13 3.11; do \
	p=$$(command -v python$$v || ls $$HOME/.pyenv/versions/$$v*/bin/python$$v 2>/dev/null | tail -n1); \
	if [ -n "$$p" ]; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_EXAMPLE := docs/examples/node

.PHONY: run test tools bench clean

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

## Tools the tests use beyond Python: docker-compose (validates docker-compose.yml; no engine
## needed) from Debian, and the Node receiver example's packages from npm.
tools:
	@command -v docker-compose >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing docker-compose (Debian) ..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
		else echo "error: the tests need docker-compose: sudo apt-get install docker-compose"; exit 1; fi; }
	@if [ -f $(NODE_EXAMPLE)/package-lock.json ] && [ ! -d $(NODE_EXAMPLE)/node_modules ]; then \
		echo "installing the Node receiver example's packages ..."; \
		npm ci --prefix $(NODE_EXAMPLE) --no-audit --no-fund --loglevel=error; fi

## Lint, type-check and run the whole test suite.
test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .data
