# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run    install, migrate, load the demo digest, start web + worker + beat
#   make test   install and run the whole test suite
#   make lint   ruff (lint and format check) and the import contracts (pyproject.toml)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export DJANGO_SETTINGS_MODULE := newsletter.settings

.PHONY: install messages run test lint migrate demo worker beat web clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required (found %s)" % sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Translation catalogues (.po) are compiled here, never committed as .mo: with
# GNU gettext's msgfmt when installed (as CI and the Docker image do), else in
# pure Python with polib, so `make run` needs nothing but Python.
messages: install
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages --ignore=$(VENV) --verbosity 0; \
	else $(PY) scripts/compile_catalogues.py; fi

migrate: install messages
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py bootstrap

# DEBUG=true only for the laptop run: runserver then serves the admin's static files.
# PORT (default 8000) is the web server's; links in emails follow it unless SITE_URL is set.
# TZ makes honcho's clock (the time before each line) the app's TIME_ZONE, as in the app's own lines.
PORT ?= 8000
run: demo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} \
	TZ=$$($(PY) -c 'from newsletter.env import env_timezone; print(env_timezone("TIME_ZONE", "Asia/Shanghai"))') \
	$(PY) scripts/run_procfile.py --procfile Procfile start --port $(PORT)

# The browser tests' checkers (axe-core, doiuse-email) come from package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# The suite runs in TEST_PROCESSES processes (pytest-xdist, tests handed out as each process frees up),
# one per core of the 2-core machines it is budgeted for; TEST_PROCESSES=0 runs it in one process (-x, --pdb).
TEST_PROCESSES ?= 2
test: install messages node_modules/.package-lock.json
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf var .pytest_cache
