# Quick start: `make serve` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test build validate lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

serve: $(STAMP)  ## build the graph if needed and serve it on http://127.0.0.1:8000
	$(BIN)/fentanyl-kg serve

test: $(STAMP)  ## run every test
	$(BIN)/python -m pytest

build: $(STAMP)
	$(BIN)/fentanyl-kg build

validate: $(STAMP)
	$(BIN)/fentanyl-kg validate

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/mypy server/fentanyl_kg

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf build dist *.egg-info
