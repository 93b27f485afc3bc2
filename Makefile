# Two entry points for a fresh machine with only Python and make:
#   make demo   set up, then run the whole pipeline on examples/
#   make test   set up, then ruff, mypy --strict and pytest
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
OUT    ?= tce-output

.PHONY: demo test lint typecheck pytest setup clean examples lock

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	TCE_PYTHON=$(BIN)/python OUT=$(OUT) bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

examples: $(STAMP)
	$(BIN)/python examples/generate.py

# tce against plain Polars on large generated exports (slow: ~30 min, cached in benchmarks/data/)
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# Regenerate the pinned versions after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) $(OUT) .mypy_cache .ruff_cache .pytest_cache
