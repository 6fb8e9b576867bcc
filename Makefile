# One-command entry points. `make run` needs only Python 3.11 and make: it builds .venv, migrates
# SQLite, loads the demo team and a generated lead file, then starts web, worker and beat.
# DATABASE_URL and REDIS_URL switch the same commands to PostgreSQL and Redis.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails and Slack messages point here; it follows HOST and PORT unless set.
SITE_URL ?= http://$(HOST):$(PORT)
export SITE_URL
DEMO_ROWS ?= 300
DEMO_SEED ?= 42
DEMO_FILE := var/demo_leads.csv

# SQLite lets one writer in at a time, so the worker runs tasks one by one in its own process;
# on PostgreSQL it can fork a few children.
WORKER_POOL ?= $(if $(DATABASE_URL),prefork,solo)
WORKER_CONCURRENCY ?= $(if $(DATABASE_URL),2,1)

.PHONY: help install install-dev dirs migrate demo run test lint format bench

help:
	@echo "make run      set up everything and start web, worker and beat on http://$(HOST):$(PORT)/"
	@echo "make test     run the test suite (pytest)"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make migrate  apply database migrations"
	@echo "make demo     load the demo team and import a generated demo lead file"
	@echo "make bench    run the benchmarks in bench/ on PostgreSQL"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: pip runs again only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The file-system broker needs its folders before the worker or beat touch it.
dirs:
	@mkdir -p var/broker/out var/broker/processed var/broker/control var/mail

migrate: install dirs
	$(PY) manage.py migrate --noinput

# Idempotent: the seed only creates what is missing, the lead file is generated once, and the
# import matches leads it has already seen.
demo: migrate
	$(PY) manage.py seed_demo
	@if [ ! -f $(DEMO_FILE) ]; then \
		$(PY) manage.py make_demo_leads --rows $(DEMO_ROWS) --seed $(DEMO_SEED) --out $(DEMO_FILE); \
	fi
	LOG_LEVEL=WARNING $(PY) manage.py import_leads $(DEMO_FILE)
	LOG_LEVEL=WARNING $(PY) manage.py demo_history

run: demo
	@echo ""
	@echo "Handoff is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo "Database: $(if $(DATABASE_URL),PostgreSQL (DATABASE_URL),SQLite db.sqlite3)." \
		"Broker: $(if $(REDIS_URL),Redis (REDIS_URL),files in var/broker/)."
	@echo "Demo logins, password handoff-demo for all:"
	@echo "  bdr1 .. bdr5  BDRs: the work queue"
	@echo "  manager       the team's manager: escalations"
	@echo "  marketing     rejection feedback and lead import"
	@echo "  revops        RevOps admin: /admin/ for criteria, routing and SLAs"
	@echo "  admin         superuser"
	@echo ""
	HANDOFF_HOST=$(HOST) WORKER_POOL=$(WORKER_POOL) WORKER_CONCURRENCY=$(WORKER_CONCURRENCY) \
		$(BIN)/honcho start -f Procfile -p $(PORT)

# The test settings, whatever the shell exports: they run tasks eagerly and send no real email.
test: install-dev
	DJANGO_SETTINGS_MODULE=handoff.settings.test $(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every benchmark module in bench/, one after the other. They need PostgreSQL: DATABASE_URL,
# or the local test server by default; each works in a throwaway database of its own.
BENCHES ?= $(filter-out common __init__,$(basename $(notdir $(wildcard bench/*.py))))

bench: install
	@for name in $(BENCHES); do \
		echo "== bench.$$name"; \
		$(PY) -m bench.$$name || exit 1; \
	done

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
