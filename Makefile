# `make run` and `make test` bootstrap .venv on first use; nothing else needs installing by hand.
SHELL := /bin/bash
# The first interpreter that runs and is >= 3.11, preferring 3.12 (pyenv shims of versions that
# are installed but not selected fail when run, so each candidate is tried, not just found).
PYTHON_FOR_VENV ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
	python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.11 python3; do \
	if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	echo "$$p"; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_EXAMPLE := docs/examples/node

.PHONY: run test tools chaos bench bench-quick bench-scale clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: need Python >= 3.11 (python3.12 or python3.11 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	@touch $(STAMP)

## Start Temporal's dev server (Web UI on :8233), a billhook worker and the REST API
## (http://127.0.0.1:8000, docs at /docs); Ctrl-C stops them all.
run: $(STAMP)
	export BILLHOOK_ENVIRONMENT=development BILLHOOK_ALLOWED_NETWORKS=127.0.0.0/8,::1/128; \
		$(BIN)/billhook serve --port 8000 & api=$$!; \
		trap 'kill $$api 2>/dev/null; wait $$api' EXIT; \
		$(BIN)/python worker.py --dev

## Tools the tests use beyond Python: docker-compose (validates docker-compose.yml; no engine
## needed) and poppler-utils (pdftoppm, pdftotext: read invoice PDFs back) from Debian, and the
## Node receiver example's packages from npm.
tools:
	@command -v docker-compose >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing docker-compose (Debian) ..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
		else echo "error: the tests need docker-compose: sudo apt-get install docker-compose"; exit 1; fi; }
	@command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing poppler-utils (Debian) ..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null; \
		else echo "error: the tests need pdftotext and pdftoppm: sudo apt-get install poppler-utils"; exit 1; fi; }
	@if [ -f $(NODE_EXAMPLE)/package-lock.json ] && [ ! -d $(NODE_EXAMPLE)/node_modules ]; then \
		echo "installing the Node receiver example's packages ..."; \
		npm ci --prefix $(NODE_EXAMPLE) --no-audit --no-fund --loglevel=error; fi

## Lint, type-check and run the whole test suite.
test: $(STAMP) tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

## The chaos suite (tests/chaos): a burst of 1,000+ events while workers are SIGKILLed, the
## Temporal server is SIGKILLed once and the store is cut for 30 s; checks that nothing is lost and
## the attempt log agrees with the receivers. Stops itself (about 4 minutes; 10 at most). Needs
## PostgreSQL at 127.0.0.1:5432; writes tests/chaos/results/chaos.txt.
chaos: $(STAMP)
	timeout -s INT 600 $(BIN)/python -m tests.chaos.run

## The five benchmarks at their target sizes (about 12 minutes on 2 cores); each prints its
## ratio or target last and writes bench/results/NAME.json.
bench: $(STAMP)
	$(BIN)/python bench/throughput.py --events 1000
	$(BIN)/python bench/latency.py --rate 20 --seconds 60
	$(BIN)/python bench/renewals.py --count 1000
	$(BIN)/python bench/idle.py --count 10000 --seconds 60
	$(BIN)/python bench/ingest.py --records 1000 --batches 10 --single 100

## The same, smaller: under 3 minutes.
bench-quick: $(STAMP)
	$(BIN)/python bench/throughput.py --events 300
	$(BIN)/python bench/latency.py --rate 20 --seconds 15
	$(BIN)/python bench/renewals.py --count 200
	$(BIN)/python bench/idle.py --count 500 --seconds 15
	$(BIN)/python bench/ingest.py --records 1000 --batches 3 --single 30 --commands 1

## Renewals at 1,000 and at 5,000: the cost per renewal at 5,000 against 1,000 (about 16 min).
bench-scale: $(STAMP)
	$(BIN)/python bench/renewals.py --count 1000 --scale 5000

clean:
	rm -rf $(VENV) .data
