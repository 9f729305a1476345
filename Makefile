# autobench: two commands do all the set-up.
#   make run    install everything, start Airflow standalone on http://127.0.0.1:8080
#   make test   install everything, run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.autobench-installed
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: run test install system-packages lint bench lock clean help screenshots demo

help:
	@echo "make run    - install and start autobench (Airflow standalone on 127.0.0.1:$(PORT))"
	@echo "make test   - install and run the whole test suite"
	@echo "make demo   - a week of autobench in a few minutes (Airflow, real training on the CPU, a fake Slack)"
	@echo "make bench  - run the benchmarks (figures go in docs/benchmarks.md)"
	@echo "make screenshots - refresh docs/screenshots/ with headless Chromium"
	@echo "make lint   - ruff over the package, DAGs and tests"

# The venv is (re)installed when a requirements file or pyproject.toml changes.
$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@AUTOBENCH_PORT=$(PORT) scripts/run.sh

# A week replayed with `airflow dags test`: loopback leaderboards, arXiv and Slack; state in ./demo_week.
demo: $(STAMP)
	$(PY) -m demo --workdir demo_week $(DEMO_ARGS)

system-packages:
	@scripts/system-packages.sh

test: $(STAMP) system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check include dags plugins tests benchmarks demo
	$(VENV)/bin/ruff check --preview --select AIR dags

bench: $(STAMP)
	$(PY) benchmarks/bench_startup.py
	$(PY) benchmarks/bench_bootstrap.py
	$(PY) benchmarks/bench_seed_policies.py

screenshots: $(STAMP)  ## docs/screenshots/*.png via headless Chromium (URL=http://127.0.0.1:8080 to use a running `make run`)
	AUTOBENCH_SCREENSHOTS_URL="$(URL)" scripts/screenshots.sh

# Refresh requirements.lock from the venv (after changing requirements*.txt).
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/' > requirements.lock

clean:
	rm -rf $(VENV) airflow_home demo_week .pytest_cache
