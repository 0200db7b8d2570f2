# LetsGrow: `make run` runs the product, `make test` runs the tests. See README.md.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: help run test check lint format browser migrate clean

help:
	@echo "make run    - install, migrate, load demo data, start web + worker + beat on http://127.0.0.1:8000"
	@echo "make test   - install test tools and run the whole suite (DATABASE_URL/REDIS_URL pick real servers)"
	@echo "make check  - ruff and the missing-migrations check"
	@echo "make format - ruff format and fix"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run an install only when its inputs change.
$(VENV)/.local-installed: $(BIN)/python requirements/base.txt requirements/local.txt
	$(BIN)/pip install --quiet -r requirements/local.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.local-installed requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

var:
	mkdir -p var/broker/queue var/broker/control var/cache var/mail var/media

migrate: $(VENV)/.local-installed var
	$(MANAGE) migrate --noinput

run: $(VENV)/.local-installed node_modules/.installed var migrate
	$(MANAGE) setup_periodic_tasks
	$(MANAGE) seed_demo
	@echo "Starting web, worker and beat on http://127.0.0.1:8000 - Ctrl-C stops all of them."
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Debian's chromium drives the browser tests (Playwright's own download cannot work here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

test: $(VENV)/.dev-installed node_modules/.installed browser
	$(BIN)/pytest $(PYTEST_ARGS)

check: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# The check needs no database server: run it on the embedded default.
	DATABASE_URL= REDIS_URL= DJANGO_SETTINGS_MODULE=letsgrow.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
