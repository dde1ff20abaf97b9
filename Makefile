# Two commands (see README): `make build` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/archspec build specs/lenet.yaml --force

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

clean:
	rm -rf build .pytest_cache
