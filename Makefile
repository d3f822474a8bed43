# The README's commands. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test demo bench lint format migrate agent-dist browser fuzz screenshots

$(STAMP): pyproject.toml agent/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./agent -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Chromium for the browser tests (Debian's package; Playwright cannot download browsers here). Installed
# when we may (root with apt-get); otherwise the browser tests say what is missing.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "note: /usr/bin/chromium is missing; install it (apt-get install chromium) to run the browser tests"; }

# `make test` never rewrites docs/screenshots/ (only `make screenshots` sets the folder).
unexport FLEETDECK_SCREENSHOTS

# Three runs: everything else in parallel; then the end-to-end tests against their own live stack
# (uvicorn, worker, beat, agents), so the stack's beat never sweeps rows another test is using; then the
# fault tests, which kill and restart processes of a stack of their own (with its own Redis).
test: install browser
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n 2 --ignore=tests/e2e --ignore=tests/faults $(PYTEST_ARGS)
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)
	$(PY) -m pytest tests/faults $(PYTEST_ARGS)

# The README's screenshots: the browser tests' flows save the main pages at 1440 and 390 px wide.
screenshots: install browser
	FLEETDECK_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/e2e/test_browser_tour.py -p no:randomly $(PYTEST_ARGS)

demo: install
	$(PY) -m config.stack --demo

bench: install
	$(PY) bench/agent.py
	$(PY) bench/deploy.py
	$(PY) bench/fleet.py
	$(PY) bench/dashboard.py
	$(PY) bench/live.py
	$(PY) bench/storage.py
	$(PY) bench/codedeploy.py

# Longer hostile-input runs than the suite's, with fresh random examples (the suite replays fixed ones).
fuzz: install
	FLEETDECK_FUZZ_RANDOM=1 FLEETDECK_FUZZ_EXAMPLES=3000 FLEETDECK_SCHEMATHESIS_EXAMPLES=80 $(PY) -m pytest tests/hostile -n 2 -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: install
	$(PY) manage.py migrate

# The wheelhouse the server serves to hosts at /agent/dist/ (built on first request otherwise).
agent-dist: install
	$(PY) manage.py build_agent_dist
