# mimamori — the two commands that matter: `make report` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
SPARK := pyspark==4.3.0
COMPILE := $(BIN)/python -m compileall -q mimamori_lib

.PHONY: install install-spark bytecode report test lint lab bench test-spark lock clean clean-data

# Installs exactly the versions in requirements.lock (what produced the published figures: the lock is complete, so
# nothing is resolved again), then the project itself.
# Left out of the lock: rfc3987-syntax (and lark, which only it needs), an optional IRI checker of jsonschema's
# format-nongpl extra (asked for by jupyter-events). Installed, it compiles 38 grammars whenever jsonschema is imported
# (nbformat, papermill: every run and every test that runs a notebook), 1.4 s each time; mimamori validates no IRI.
NOT_INSTALLED := rfc3987-syntax lark
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps -r $(LOCK)
	$(BIN)/python -m pip uninstall --quiet --yes $(NOT_INSTALLED) 2>/dev/null || true
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(COMPILE)
	@touch $(STAMP)

## Refresh requirements.lock from pyproject.toml (newest versions allowed there), then reinstall from it.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 --upgrade \
		$(foreach p,$(NOT_INSTALLED),--no-emit-package $(p)) -o $(LOCK)
	$(MAKE) install

install: $(STAMP)

## The project's compiled modules, written beside them (only those whose source changed). Every step runs in a new
## Python process that imports the library; where PYTHONDONTWRITEBYTECODE is set (many containers set it) nothing is
## ever cached, and each of them compiles it again: 0.25 s of each kernel's start, 13% of the demo's processor time.
bytecode: $(STAMP)
	@$(COMPILE)

## The whole demo on synthetic data: generate the city if data/raw is empty, run every year, write reports.
report: bytecode
	$(BIN)/mimamori report

## Lint, notebook-output check and the whole test suite, a worker per core (pytest-xdist; a module's tests stay
## together, the end-to-end cities are made once for all workers). TEST_WORKERS=0: one test at a time, in this process.
## (Not --dist loadgroup: under pytest 9.2 its xdist_group marks are silently dropped, pytest-xdist issue 1386.)
TEST_WORKERS ?= auto
test: bytecode
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(BIN)/ruff check .

lab: bytecode
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
