# Two commands for a new user: `make demo` runs ragkit's main job, `make test` the whole suite.
# Both create (or refresh) a local virtualenv in .venv and install ragkit into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "could not create a virtualenv with $(PYTHON); on Debian/Ubuntu run: apt-get install python3-venv" >&2; exit 1; }

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff format --check ragkit tests bench examples
	$(BIN)/ruff check ragkit tests bench examples
	$(BIN)/mypy ragkit
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/client_overhead.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/index_add.py

clean:
	rm -rf $(VENV) .ragkit .pytest_cache .mypy_cache .ruff_cache
