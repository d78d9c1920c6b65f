# Tandem: `make run` serves the app with a worker and beat; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test lint format bench bench-load install migrate demo chromium clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (set PYTHON=... to use another 3.11+)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

run: demo
	@echo ""
	@echo "  Open http://127.0.0.1:8000/ and log in with one of the demo logins above."
	$(BIN)/python scripts/devstack.py --port 8000

# Browser tests drive Debian's Chromium; install it when it is missing and we may.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "Browser tests need /usr/bin/chromium: sudo apt-get install chromium"; exit 1; fi; }

test: install chromium
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark but the load one, which needs PostgreSQL and minutes of data: bench-load.
bench: install
	@for script in benchmarks/*.py; do \
	  [ "$$script" = benchmarks/load.py ] || $(BIN)/python $$script || exit 1; done

# The load figures (issue 8): gunicorn on PostgreSQL, 10k members, ~1M activity rows.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tandem_load_bench
bench-load: install
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python benchmarks/load.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
