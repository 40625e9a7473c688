# Face DL Course: the two commands of the README's quick start are `make course` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes (pytest-xdist): notebooks mostly wait on one core, so two workers keep a
# 2-core machine busy; each notebook kernel holds ~1.5 GB, so more workers need more memory.
TEST_WORKERS ?= 2

.PHONY: install course test lint format sample-data editions clean

# One virtual environment, installed from pyproject.toml with CI's exact versions (constraints.txt):
# the course package (editable) with its [lab] (JupyterLab, papermill) and [dev] (tests) extras.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,lab]"
	touch $(STAMP)

install: $(STAMP)

# Generate the sample data and execute every notebook in sample mode into build/.
course: install
	$(BIN)/python -m utils.course

# The whole test suite: the architecture's import contracts (import-linter), then unit tests,
# notebook execution, lint and type checks.
# Browser tests (tests/browser) need Chromium: installed here from Debian's package when it is
# missing and we may (root or passwordless sudo); the script never fails the build itself.
test: install
	@bash scripts/ensure_chromium.sh
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# Student (solutions stubbed) and instructor editions of the notebooks; `make course` does it too.
editions: install
	$(BIN)/python -m data_scripts.make_editions --out build/editions

sample-data: install
	$(BIN)/python -m data_scripts.make_sample_data --out data/sample

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
