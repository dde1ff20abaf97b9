# Two commands (see README): `make build` and `make test`. Both create .venv when needed.
# `make docs` serves the documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000.
# `make bench` (an extra) runs bench/ and rewrites BENCHMARKS.md; BENCH=full for the long runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH ?= quick

.PHONY: build test docs bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/archspec build specs/lenet.yaml --force

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=30

docs: $(STAMP)
	$(BIN)/mkdocs serve

bench: $(STAMP)
	$(BIN)/python bench/run.py --mode $(BENCH)

clean:
	rm -rf build site .pytest_cache
