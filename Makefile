# The two commands of the README:
#   make demo   set up .venv and run the main job on the built-in default twin
#   make test   set up .venv with the dev extras and system test servers, then run the whole test suite
# Both work on a fresh Linux machine with Python >= 3.11 and nothing else prepared.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned to the CPU wheel that ships with the machine image; installing it first keeps pip
# from resolving a multi-GB CUDA build for it.
TORCH  := torch==2.13.0

.PHONY: demo test lint typecheck check bench docs system-deps clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"worldtwin needs Python >= 3.11, found {sys.version.split()[0]}; set PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[all]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/worldtwin demo

system-deps:
	@scripts/install-system-deps.sh

test: $(VENV)/.installed-dev system-deps
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

check: lint typecheck test

docs: $(VENV)/.installed-dev
	$(BIN)/worldtwin spec reference --write README.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
