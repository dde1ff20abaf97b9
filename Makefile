# Two commands (see README): `make build` and `make test`. Both create .venv when needed.
# `make bench` (an extra) runs bench/ and rewrites BENCHMARKS.md; BENCH=full for the long runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH ?= quick

.PHONY: build test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/archspec build specs/lenet.yaml --force

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=30

bench: $(STAMP)
	$(BIN)/python bench/run.py --mode $(BENCH)

clean:
	rm -rf build .pytest_cache
