# Two commands (see README): `make build` and `make test`. Both create .venv when needed.
# `make test` lints (ruff), checks the formatting (ruff format) and the types (mypy, strict) before the tests.
# The tests write bytecode even where PYTHONDONTWRITEBYTECODE is set: each of the suite's ~50 archspec subprocesses
# would otherwise compile the package again, and pytest rewrite every test module in each worker.
# `make docs` serves the documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000.
# `make bench` (an extra) runs bench/ and rewrites BENCHMARKS.md; BENCH=full for the long runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
TESTS := $(VENV)/.installed-test
BENCH ?= quick

.PHONY: build test docs bench clean

# Two stamps: `make build` installs the package and its own dependencies only (TensorFlow, Keras, Pydantic, click,
# PyYAML, h5py: what build/shapes/train need); `make test` adds the test extras (JAX, ONNX, the docs site, the page's
# server, the language server...) on top. test after build installs only the extras; build after test reinstalls nothing.
$(BASE): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

$(TESTS): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTS)

build: $(BASE)
	$(BIN)/archspec build specs/lenet.yaml --force

test: $(TESTS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 2 --durations=30

docs: $(TESTS)
	$(BIN)/mkdocs serve

bench: $(TESTS)
	$(BIN)/python bench/run.py --mode $(BENCH)

clean:
	rm -rf build site .pytest_cache
