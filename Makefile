# The two commands: `make run` and `make test`. Everything a fresh machine needs is here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The web app and workers run Django 6, which needs Python >= 3.12. The grading sandbox is a
# separate interpreter: Debian's python3.11, readable by the unprivileged uid jobs run as,
# with the CPU build of torch 2.13.0.
APP_PYTHON ?= $(firstword $(wildcard /usr/bin/python3.13 /usr/bin/python3.12 /usr/local/bin/python3.12 $(HOME)/.pyenv/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12))
SANDBOX_PYTHON ?= /usr/bin/python3.11
VENV := .venv
SANDBOX_VENV := .venv-sandbox
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PIP_VERSION := 26.0.1
# Where this machine keeps the torch wheel; pip only takes it from a local folder.
export PIP_FIND_LINKS := $(strip $(PIP_FIND_LINKS) $(wildcard /opt/wheels))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup run test browser lint format services migrate clean bench-grading bench-load \
	bench-variants bench-capacity

help:
	@echo "make run   - set up everything and start web server, worker (embedded SQLite/filesystem broker"
	@echo "             by default; DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis);"
	@echo "             PORT=, SANDBOX_UID_BASE=, VAR_DIR= for a second instance (free ones by default)"
	@echo "make test  - set up and run the whole suite against PostgreSQL and Redis"

$(VENV)/.installed: pyproject.toml
	@test -n "$(APP_PYTHON)" || { echo "Python >= 3.12 not found (Django 6 needs it); set APP_PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(APP_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	$(VENV)/bin/pip install --quiet -e . --group dev
	@touch $@

$(SANDBOX_VENV)/.installed: pyproject.toml
	@test -x "$(SANDBOX_PYTHON)" || { echo "$(SANDBOX_PYTHON) not found: the sandbox needs Debian's python3.11 (apt-get install python3.11-venv)" >&2; exit 1; }
	$(SANDBOX_PYTHON) -m venv $(SANDBOX_VENV)
	$(SANDBOX_VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	$(SANDBOX_VENV)/bin/pip install --quiet --group sandbox
	@touch $@

setup: $(VENV)/.installed $(SANDBOX_VENV)/.installed

migrate: setup
	@mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

# One instance: sandbox, demo, worker and web server (.ci/make-run.sh). PORT= and
# SANDBOX_UID_BASE= choose the port and the sandbox's uids (default: the first free ones),
# VAR_DIR= its files (default var/, or var/port-<PORT> beside another instance), so two
# `make run` fit on one machine. Ctrl-C stops every child.
run:
	@PORT="$(PORT)" SANDBOX_UID_BASE="$(SANDBOX_UID_BASE)" VAR_DIR="$(VAR_DIR)" .ci/make-run.sh

services:
	@bash .ci/services.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The browser tests (tests/browser/) drive Debian's Chromium through Playwright; Playwright's
# own browser download cannot work here, so the system package is installed when missing.
CHROMIUM := /usr/bin/chromium
# Without an emoji font the screenshots show the pages' icons as empty boxes.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

browser:
	@{ test -x $(CHROMIUM) && test -f $(EMOJI_FONT); } || { \
	  echo "Installing Debian's chromium and an emoji font for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium fonts-noto-color-emoji >/dev/null && test -x $(CHROMIUM); \
	} || { echo "$(CHROMIUM) is missing and could not be installed; as root run:" \
	  "apt-get install --no-install-recommends chromium (tests/browser/ needs it)" >&2; exit 1; }

test: setup services browser lint
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

# Grading through the production path: PostgreSQL, Redis, a Celery worker and the sandbox,
# against a fresh Python process per job. Prints p50/p95, the ratio and the throughput.
BENCH_ENV = DJANGO_SETTINGS_MODULE=config.settings.local DEBUG=0 \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/ml_assess_bench REDIS_URL=redis://127.0.0.1:6379/14 \
	SANDBOX_SOCKET=$(CURDIR)/var/bench/sandbox.sock
# The default worker deployment (docker-compose.yml): prefork, concurrency 2.
BENCH_WORKERS ?= 2
BENCH_POOL ?= prefork

bench-grading: setup services
	@mkdir -p var/bench && chmod 711 var var/bench
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ml_assess_bench'" | grep -q 1 \
	  || createdb -h 127.0.0.1 -U postgres ml_assess_bench
	@$(BENCH_ENV) $(MANAGE) migrate -v0
	@redis-cli -n 14 flushdb >/dev/null
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	  env -i PATH=/usr/bin:/bin $(SANDBOX_VENV)/bin/python -m grading.sandbox.server \
	    --socket var/bench/sandbox.sock --scratch-root var/bench/scratch --prefork 4 --uid-base 220000 \
	    --log-level WARNING & \
	  $(BENCH_ENV) $(VENV)/bin/celery -A config worker -Q grading --pool $(BENCH_POOL) \
	    --concurrency $(BENCH_WORKERS) --loglevel WARNING --without-gossip --without-mingle \
	    >var/bench/worker.log 2>&1 & \
	  $(BENCH_ENV) $(MANAGE) sandbox_status --wait 60 >/dev/null && sleep 3 && \
	  $(BENCH_ENV) $(MANAGE) bench_grading $(BENCH_ARGS)

# Candidates taking BatchNorm Mastery through the production stack: gunicorn with production
# settings, PostgreSQL, Redis, a Celery worker (both queues) and a sandbox (load_demo's
# publishing and the code answers of the click-to-verdict phase). Its own database, Redis db
# 13, port and sandbox uids. bench-load: everyone at once (overload; throughput at saturation);
# bench-capacity: realistic pacing in steps (how many candidates stay fast). Both print
# p50/p95, errors, the exactly-once check, the server's CPU per answer, page and /healthz
# (Server-Timing, SERVER_TIMING_CPU=1) and click-to-verdict of code answers (README, "Figures").
LOAD_PORT ?= 8013
LOAD_ENV = DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=bench-load-only-not-secret \
	SERVER_TIMING_CPU=1 \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/ml_assess_load REDIS_URL=redis://127.0.0.1:6379/13 \
	SANDBOX_SOCKET=$(CURDIR)/var/load/sandbox.sock SECURE_COOKIES=0 LOG_LEVEL=WARNING
# Plain http on 127.0.0.1, so cookies cannot be marked Secure (SECURE_COOKIES=0 above).
GUNICORN_ENV = GUNICORN_BIND=127.0.0.1:$(LOAD_PORT) \
	$(if $(LOAD_WORKERS),GUNICORN_WORKERS=$(LOAD_WORKERS)) \
	$(if $(LOAD_WORKER_CLASS),GUNICORN_WORKER_CLASS=$(LOAD_WORKER_CLASS)) \
	$(if $(LOAD_THREADS),GUNICORN_THREADS=$(LOAD_THREADS))

bench-load: setup services
	@mkdir -p var/load && chmod 711 var var/load
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ml_assess_load'" | grep -q 1 \
	  || createdb -h 127.0.0.1 -U postgres ml_assess_load
	@$(LOAD_ENV) $(MANAGE) migrate -v0
	@$(LOAD_ENV) $(MANAGE) collectstatic --noinput -v0
	@redis-cli -n 13 flushdb >/dev/null
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	  env -i PATH=/usr/bin:/bin $(SANDBOX_VENV)/bin/python -m grading.sandbox.server \
	    --socket var/load/sandbox.sock --scratch-root var/load/scratch --prefork 1 --uid-base 240000 \
	    --log-level WARNING & \
	  $(LOAD_ENV) $(VENV)/bin/celery -A config worker -Q default,grading --concurrency 1 \
	    --loglevel WARNING --without-gossip --without-mingle >var/load/worker.log 2>&1 & \
	  $(LOAD_ENV) $(MANAGE) sandbox_status --wait 60 >/dev/null && \
	  $(LOAD_ENV) $(MANAGE) load_demo >/dev/null && \
	  { $(LOAD_ENV) $(GUNICORN_ENV) $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi \
	      >var/load/gunicorn.log 2>&1 & } && \
	  $(LOAD_ENV) $(MANAGE) bench_load --url http://127.0.0.1:$(LOAD_PORT) $(LOAD_MODE) $(LOAD_ARGS)

bench-capacity: LOAD_MODE = --mode capacity
bench-capacity: bench-load

# Per-candidate variants of BatchNorm Mastery (issue 14): preparing a candidate's variants,
# how often two candidates' numbers differ, grading a variable answer next to a fixed one.
# Its own database and sandbox uids; variant jobs run in the command, as a worker runs them.
VARIANTS_ENV = DJANGO_SETTINGS_MODULE=config.settings.local DEBUG=0 \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/ml_assess_bench_variants \
	REDIS_URL=redis://127.0.0.1:6379/12 SANDBOX_SOCKET=$(CURDIR)/var/bench-variants/sandbox.sock

bench-variants: setup services
	@mkdir -p var/bench-variants && chmod 711 var var/bench-variants
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ml_assess_bench_variants'" \
	  | grep -q 1 || createdb -h 127.0.0.1 -U postgres ml_assess_bench_variants
	@$(VARIANTS_ENV) $(MANAGE) migrate -v0
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	  env -i PATH=/usr/bin:/bin $(SANDBOX_VENV)/bin/python -m grading.sandbox.server \
	    --socket var/bench-variants/sandbox.sock --scratch-root var/bench-variants/scratch \
	    --prefork 4 --uid-base 260000 --log-level WARNING & \
	  $(VARIANTS_ENV) $(MANAGE) sandbox_status --wait 60 >/dev/null && \
	  $(VARIANTS_ENV) $(MANAGE) bench_variants $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SANDBOX_VENV) var staticfiles .pytest_cache .ruff_cache
