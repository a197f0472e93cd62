# flow-engine: every target sets up what it needs on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint fake-gateway clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## make run: serve the engine with the demo fixtures; its data is kept in .data/ (an embedded
## redis-server, installed here when missing) unless FLOW_ENGINE_REDIS_URL or _STORE say otherwise
run: $(STAMP)
	@if [ -z "$$FLOW_ENGINE_REDIS_URL" ] && [ "$${FLOW_ENGINE_STORE:-embedded}" = embedded ]; then \
	  scripts/ensure-redis; fi
	@scripts/ensure-fonts
	FLOW_ENGINE_ENV=$${FLOW_ENGINE_ENV:-development} \
	FLOW_ENGINE_CONFIG_DIR=$${FLOW_ENGINE_CONFIG_DIR:-fixtures} \
	$(BIN)/flow-engine serve

## make fake-gateway: the development gateway (Graph API send endpoints + signed webhooks)
fake-gateway: $(STAMP)
	$(BIN)/flow-engine fake-gateway

## make test: the whole suite, with a real redis-server started by the suite and the
## console's browser tests in the system chromium (skipped, with the reason, if it cannot
## be installed here). TEST_WORKERS pytest-xdist workers (default 2: most tests wait on
## sockets and subprocesses, not the CPU); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	@scripts/ensure-redis
	@scripts/ensure-chromium || echo "chromium unavailable: the browser tests will be skipped" >&2
	@scripts/ensure-fonts
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## make bench: engine vs a bare aiohttp + Redis baseline, side by side
bench: $(STAMP)
	@scripts/ensure-redis
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## make lint: ruff and mypy --strict, both clean
lint: $(STAMP)
	$(BIN)/ruff check flow_engine tests bench
	$(BIN)/ruff format --check flow_engine tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
