# Puente — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install demo serve test test-fast lint typecheck fmt all chromium migration clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install Puente with its test tools

demo: $(STAMP) ## Migrate, load the demo world into var/puente.db and serve http://127.0.0.1:8000
	$(BIN)/puente demo --port 8000

serve: $(STAMP) ## Serve the configured database on http://127.0.0.1:8000
	$(BIN)/puente serve --port 8000

chromium: ## Install Debian's Chromium (browser tests) and Janus (conference SFU tests) when missing
	@{ command -v chromium && command -v janus; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core janus; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core janus; fi; }

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

fmt: $(STAMP) ## Format the code
	$(BIN)/ruff check --fix src tests bench scripts
	$(BIN)/ruff format src tests bench scripts

typecheck: $(STAMP) ## mypy --strict over src
	$(BIN)/mypy

test: $(STAMP) chromium lint typecheck ## Lint, type-check and run the whole suite (SQLite, plus PostgreSQL when PUENTE_TEST_DATABASE_URL is set)
	$(BIN)/pytest -n 2

test-fast: $(STAMP) ## The suite without the browser tests
	$(BIN)/pytest -n 2 -m "not browser"

all: fmt test ## Format, then everything `test` does

migration: $(STAMP) ## Autogenerate a migration: make migration m="what changed"
	$(BIN)/python scripts/new_migration.py "$(m)"

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
