# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make dev    install, write the sample sources, start the Dagster UI on http://127.0.0.1:3000
#   make test   install, run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install dev test sample-data validate jupyter lint

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,notebooks]'
	# The notebooks' `python3` kernel is this environment's interpreter.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (catalog_assets)"
	touch $@

install: $(VENV)/.installed

sample-data: install
	$(BIN)/catalog sample-data

validate: install
	$(BIN)/catalog validate

# Each deployment has its own Dagster instance under .catalog/dagster/<area>/ (`catalog dev`);
# CATALOG_DEPLOYMENT=prod or CATALOG_BRANCH=<branch> select another deployment.
dev: install sample-data validate
	$(BIN)/catalog dev --host 127.0.0.1 --port 3000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

jupyter: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,notebooks,jupyter]'
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
