# Two commands for learners and CI:  `make lab` (open the lab)  and  `make test` (run every test).
# Each creates the virtual environment it needs on first use and refreshes it when pyproject.toml changes.

PYTHON ?= python3
LAB_VENV := .venv
TEST_VENV := .venv-test
BROWSER_VENV := .venv-browser
PORT ?= 8888
NB ?= notebooks/*.ipynb

# The environment notebooks run in for tests and for regenerating stored outputs: matplotlib's inline
# backend (an MPLBACKEND from the shell breaks figure cells), fixed hashing and time zone, offline AWS with
# none of the machine's own AWS settings (profile, region, endpoint, config files) leaking in.
RUN_ENV := env -u MPLBACKEND -u LAB_AWS_MODE -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION \
	-u AWS_ENDPOINT_URL AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	PYTHONHASHSEED=0 TZ=UTC OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Tests and stored outputs start from an empty offline AWS account and an empty work folder, so a learner's
# own saved files (review decisions, prepared data, jobs) never change what the notebooks print.
SCRATCH = scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	$(RUN_ENV) LAB_WORK_DIR="$$scratch/work" LAB_STATE_DIR="$$scratch/state"
NBVAL_OPTS := --nbval --nbval-current-env --nbval-sanitize-with=tests/nbval_sanitize.cfg --nbval-cell-timeout=900
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab refresh test nbtest execute base-model data bench browser-test clean check-python

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "The lab needs Python 3.10 or newer; this is " + sys.version.split()[0])'

# Progress for the first `make lab`: one line per step and per package as pip reaches it (pip's output is
# unbuffered, or a pipe holds it back for minutes), and how long each step takes (measured: 74 CPU-seconds,
# 118 packages). pip's errors go to the
# terminal unfiltered, and step 4 fails if anything is missing.
$(LAB_VENV)/.installed: pyproject.toml | check-python
	@echo "First run: creating $(LAB_VENV) and installing the lab (JupyterLab, boto3, numpy, pandas, ...)."
	@echo "It takes a few minutes and about 550 MB of disk; later runs start at once."
	@echo "[1/4] creating the virtual environment $(LAB_VENV) (a few seconds)"
	@test -x $(LAB_VENV)/bin/python || $(PYTHON) -m venv $(LAB_VENV)
	@echo "[2/4] upgrading pip (under a minute)"
	@$(LAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	@echo "[3/4] downloading and installing about 120 packages (2-5 minutes; each is listed as pip reaches it)"
	@PYTHONUNBUFFERED=1 $(LAB_VENV)/bin/python -m pip install -e '.[lab]' \
		| grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' \
		| sed -u -e 's/^Collecting /  fetching /' -e 's/^Installing collected packages.*/  installing them all (1-2 minutes).../' \
		-e 's/^Successfully installed.*/  installed./'
	@echo "[4/4] checking that the lab imports"
	@$(LAB_VENV)/bin/python -c 'import helpers, jupyterlab'
	@touch $@

# --no-compile: byte-compiling every installed module took most of the install's CPU; tests import a fraction
# of them, and Python compiles those on first import (measured: the venv in 33 CPU-seconds instead of 64).
$(TEST_VENV)/.installed: pyproject.toml | check-python
	test -x $(TEST_VENV)/bin/python || $(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TEST_VENV)/bin/python -m pip install --quiet --no-compile -e '.[test]'
	touch $@

## lab: start JupyterLab on 127.0.0.1:$(PORT) at your copy of the first notebook (copies made when missing, in
## my-notebooks/, never overwritten: the tracked notebooks/ stay the tested source)
lab: $(LAB_VENV)/.installed
	$(LAB_VENV)/bin/python -m helpers learner-copies --into my-notebooks
	env -u LAB_AWS_MODE LAB_LEARNER_DIR=$(CURDIR)/my-notebooks $(LAB_VENV)/bin/jupyter lab --ip 127.0.0.1 \
		--port $(PORT) $(ROOT_FLAG) --ServerApp.root_dir=$(CURDIR)/my-notebooks my-notebooks/00_start_here.ipynb

## refresh NB=02: replace your copy of one notebook with a fresh one from notebooks/ (yours is kept as NAME~1~)
refresh: $(LAB_VENV)/.installed
	@$(if $(filter command line,$(origin NB)),,echo "say which notebook: make refresh NB=02" && exit 2)
	LAB_LEARNER_DIR=$(CURDIR)/my-notebooks $(LAB_VENV)/bin/python -m helpers refresh $(NB)

## test [TEST_WORKERS=0]: unit tests and every notebook under nbval, in the lean test environment (no JupyterLab),
## on every core (how the work is shared: conftest.py); TEST_WORKERS=0 runs it serially
TEST_WORKERS ?= auto
test: $(TEST_VENV)/.installed
	$(SCRATCH) $(TEST_VENV)/bin/python -m pytest tests/ notebooks/ $(NBVAL_OPTS) --durations=25 \
		--numprocesses=$(TEST_WORKERS)

## nbtest NB=notebooks/01_decision_tree.ipynb: one notebook under nbval
nbtest: $(TEST_VENV)/.installed
	$(SCRATCH) $(TEST_VENV)/bin/python -m pytest $(NB) $(NBVAL_OPTS)

## execute NB=notebooks/01_decision_tree.ipynb: run notebooks top to bottom and store their outputs
execute: $(TEST_VENV)/.installed
	$(SCRATCH) $(TEST_VENV)/bin/python scripts/execute_notebooks.py $(NB)

## base-model: rebuild the shipped base checkpoint in data/base_model/ (once; ~21 min of CPU, longer on a busy machine)
base-model: $(TEST_VENV)/.installed
	$(RUN_ENV) $(TEST_VENV)/bin/python -m helpers build-base-model

## data: regenerate the lab's data sets from their generators (fixed seeds, byte-identical)
data: $(TEST_VENV)/.installed
	$(RUN_ENV) $(TEST_VENV)/bin/python -m helpers.corpus

## bench: print the measured figures (sizes, throughput, latency); never part of `make test`
bench: $(TEST_VENV)/.installed
	for script in benchmarks/bench_*.py; do $(RUN_ENV) $(TEST_VENV)/bin/python $$script || exit 1; done

# Playwright drives Debian's Chromium (never `playwright install`); it lives in a venv of its own (~190 MB) so
# learners' `make lab` environment does not carry a maintainer's test tool.
$(BROWSER_VENV)/.installed: | check-python
	test -x /usr/bin/chromium || { echo "Installing Debian's chromium (~480 MB on disk, once)."; apt-get update && apt-get install -y chromium; }
	test -x $(BROWSER_VENV)/bin/python || $(PYTHON) -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BROWSER_VENV)/bin/python -m pip install --quiet playwright
	touch $@

## browser-test [NOTEBOOKS=dir] [BROWSER_TEST_OPTS=--break-callbacks]: every notebook Run All in JupyterLab in
## headless Chromium, widgets driven, one screenshot each in build/browser/ (~3 min; installs Chromium first time)
NOTEBOOKS ?= notebooks
browser-test: $(LAB_VENV)/.installed $(BROWSER_VENV)/.installed
	$(BROWSER_VENV)/bin/python scripts/browser_test.py $(NOTEBOOKS) --jupyter $(LAB_VENV)/bin/jupyter $(BROWSER_TEST_OPTS)

clean:
	rm -rf $(LAB_VENV) $(TEST_VENV) $(BROWSER_VENV) .cache .lab-state build
