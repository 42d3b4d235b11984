# The entry points a newcomer needs: `make demo`, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run demo test lint types contracts unit bench bench-deps browser postgresql clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

config.toml:
	cp config.example.toml config.toml
	@echo "Created config.toml from config.example.toml; edit it to taste."

run: $(STAMP_RUN) config.toml
	$(BIN)/paperboy --config config.toml run

# The whole system on this machine, no Discord token: prints `Open http://127.0.0.1:PORT/`
# and runs until Ctrl-C. PORT=8000 make demo picks the port.
demo: $(STAMP_RUN)
	@$(BIN)/python -m demo

# Debian's Chromium, for the demo page's browser test (tests/e2e/test_demo.py). Installs it only
# when running as root and it is missing; otherwise says what to do.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then \
		echo "$(CHROMIUM) is installed."; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation; \
	else \
		echo "$(CHROMIUM) is missing; as root run: apt-get install chromium (the browser test is skipped without it)"; \
	fi

# Debian's PostgreSQL server binaries, for the PostgreSQL half of the tests (tests/pgcluster.py
# starts a throwaway cluster from them; nothing is left running). Installs them only when running
# as root and they are missing; otherwise says what to do. The package's own cluster is not
# needed, so it is not started.
PG_BIN_GLOB := /usr/lib/postgresql/*/bin/initdb
postgresql:
	@if ls $(PG_BIN_GLOB) >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries: $$(ls $(PG_BIN_GLOB) | head -n 1 | xargs dirname)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	else \
		echo "PostgreSQL server binaries are missing; as root run: apt-get install postgresql (the PostgreSQL half of the tests is skipped without them)"; \
	fi

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP_TEST)
	$(BIN)/mypy bot

# The import contracts in pyproject.toml's [tool.importlinter]: no discord in bot/, storage's
# private modules stay private, and the layers README.md's architecture section draws.
contracts: $(STAMP_TEST)
	$(BIN)/lint-imports

# Every test, in one pytest run. The storage tests and every end-to-end scenario that keeps the
# bot's state run twice, on SQLite and on PostgreSQL (a throwaway cluster from the server
# binaries, see `make postgresql`); without the binaries the PostgreSQL half is skipped and the
# test header says so in one line (PAPERBOY_REQUIRE_POSTGRESQL=1, as .ci/run sets, fails instead).
# PAPERBOY_TEST_ENGINE=sqlite (or postgresql) runs the end-to-end scenarios on one engine only.
unit: $(STAMP_TEST)
	$(BIN)/pytest

# Lint, formatting, types, import contracts, and every test on both engines (see `unit`).
test: lint types contracts unit

bench: $(STAMP_TEST)
	$(BIN)/python -m bench

# Contenders the benchmarks compare against, never dependencies of the bot: lemon24/reader for
# bench.polling (its vendored feedparser needs sgmllib3k, which it does not declare) and
# feedparser-rs for bench.parse_cost.
bench-deps: $(STAMP_TEST)
	$(BIN)/pip install --quiet reader==3.26 sgmllib3k==1.0.0 feedparser-rs==0.7.1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
