# The two commands a fresh machine needs: `make run` and `make test`.
# Both create .venv if missing and install what is needed, torch first: torch==2.13.0 is a
# CPU build in the machine's local wheel cache, while any other request pulls CUDA packages.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PY ?= python3.11
# pip warns about every package missing from the machine's extra local indexes; that is noise.
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench eval install clean

# setup.py and the C source: the install compiles embeddings/_rows.c (the search's kernel).
$(STAMP): pyproject.toml setup.py embeddings/_rows.c
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet -e '.[test]' $(QUIET_PIP)
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dari run

# Style and types first (ruff, mypy: configuration in pyproject.toml), then the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# The evaluation sets are generated from ../shared/data (never committed), then every set is
# run through `dari eval`'s runner and one table of the test halves is printed.
eval: $(STAMP)
	$(BIN)/python eval/build_sets.py
	$(BIN)/python eval/report.py --json build/eval/results.json

clean:
	rm -rf $(VENV) data
