# The two commands of the README: `make demo` and `make test`. Both install what they need into
# .venv first (only Python >= 3.11 and pip are assumed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo
LEGDAY := $(BIN)/legday --config sample_data/legday.toml --db $(DEMO)/legday.duckdb

.PHONY: install demo test lint typecheck bench fuzz clean sample-data

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "legday needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@mkdir -p $(DEMO)
	$(LEGDAY) ingest sample_data
	$(LEGDAY) status
	$(LEGDAY) report --most-telling --out $(DEMO)/reports

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# What CI runs. pytest leaves out the soak runs marked `slow` (pyproject); `pytest -m slow` runs them.
test: install lint typecheck
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m benchmarks.run

fuzz: install
	$(BIN)/python scripts/fuzz.py --cases 3000 --seed 20261124

sample-data: install
	$(BIN)/python sample_data/generate.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
