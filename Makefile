# Two commands a newcomer needs: `make demo` and `make test`. Nothing set = SQLite + an embedded
# Celery broker (message files in var/broker; `make demo` starts web server, worker and beat);
# DATABASE_URL / CELERY_BROKER_URL switch to PostgreSQL / Redis.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -m "not slow and not calibration"
# REUSE_DB=1 keeps pytest-django's test database between runs (--reuse-db): on PostgreSQL it saves
# creating and migrating it each time (SQLite's test database lives in memory anyway). New
# migrations are applied to the kept database; after editing or removing a migration, or after an
# interrupted run, run once with PYTEST_ARGS='--create-db ...'. CI starts from a fresh database.
REUSE_DB ?=
PYTEST := $(PY) -m pytest $(if $(REUSE_DB),--reuse-db)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-slow test-calibration test-e2e lint bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.X)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) -m disagreement.devserver --host $(HOST) --port $(PORT)

# The web server, a Celery worker and beat (Ctrl-C stops all three), without seeding.
serve: install
	$(PY) -m disagreement.devserver --host $(HOST) --port $(PORT)

test: install
	$(PYTEST) $(PYTEST_ARGS)

test-slow: install
	$(PYTEST) -m "slow and not e2e and not calibration"

# Monte-Carlo calibration of the estimators over many simulated studies (minutes; .ci/run runs it).
test-calibration: install
	$(PYTEST) -m calibration

test-e2e: install
	$(PYTEST) -m e2e

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

bench: install
	$(PY) bench/indices.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
