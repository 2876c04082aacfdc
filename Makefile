# Cairn: `make run` serves the product on http://127.0.0.1:8000, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-services test-reliability lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Cairn needs Python 3.11 or newer (found $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m project.run

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=postgresql://mypy@localhost/none CELERY_BROKER_URL=memory:// \
		$(BIN)/mypy .

test: lint
	@scripts/install-chromium || echo "warning: the browser tests need /usr/bin/chromium"
	$(BIN)/python -m pytest

# The ingestion, retrieval, answering and worker-crash tests and tests/services/ on
# standard servers: PostgreSQL with pgvector, Redis and PgBouncer (transaction mode),
# installed with apt-get when missing and run under ./var/services (scripts/services).
test-services: $(VENV)/.dev
	scripts/test-services

# Slow checks (minutes): the worker, Redis and PostgreSQL of a supervised stack killed
# mid-ingest, and issue 16's hostile inputs at full size (a 1.1 GB DOCX bomb, 200,000
# nested divs, ...) generated on the fly, with peak RSS per case in
# var/test/reliability-report.txt. `python -m tests.reliability.corpus DIR --full`
# writes the files themselves.
test-reliability: $(VENV)/.dev
	$(BIN)/python -m pytest -s tests/reliability -m "reliability or not reliability"
	@cat var/test/reliability-report.txt 2>/dev/null || true

$(VENV)/.bench: requirements-bench.txt requirements-bench-nodeps.txt $(VENV)/.dev
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-bench-nodeps.txt
	@touch $@

# `make bench` runs ingestion and retrieval; name suites to pick them, e.g.
# `make bench retrieval-corpus BENCH_ARGS=--keep`.
BENCH_SUITES := ingestion retrieval retrieval-corpus tuning sheets load
bench: $(VENV)/.bench
	$(BIN)/python -m bench $(filter $(BENCH_SUITES),$(MAKECMDGOALS)) $(BENCH_ARGS)

ifneq ($(filter bench,$(MAKECMDGOALS)),)
$(filter $(BENCH_SUITES),$(MAKECMDGOALS)):
	@:
endif

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
