# mimamori — the two commands that matter: `make report` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
SPARK := pyspark==4.3.0

.PHONY: install install-spark report test lint lab bench test-spark lock clean clean-data

# Installs the exact versions in requirements.lock (what produced the published figures), then the project itself.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

## Refresh requirements.lock from pyproject.toml (newest versions allowed there), then reinstall from it.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 --upgrade -o $(LOCK)
	$(MAKE) install

install: $(STAMP)

## The whole demo on synthetic data: generate the city if data/raw is empty, run every year, write reports.
report: $(STAMP)
	$(BIN)/mimamori report

## Lint, notebook-output check and the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/linkage.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/disclosure.py
	$(BIN)/python benchmarks/strata.py --data data/bench-strata

## The Spark backend's Python side (Java 17+ is the machine's): make test then runs the Spark test too.
install-spark: $(STAMP)
	$(BIN)/python -m pip install --quiet $(SPARK)

test-spark: install-spark
	$(BIN)/python -m pytest -m spark tests/test_linkage_spark.py

clean:
	rm -rf data/processed/* reports/* .pytest_cache
	@touch data/processed/.gitkeep reports/.gitkeep

clean-data: clean
	rm -rf data/raw/fy* data/synthetic_truth
