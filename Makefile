# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test test-long bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# pip compiles the modules of a regular install; an editable one relies on the
# first import writing __pycache__, which PYTHONDONTWRITEBYTECODE (set on the
# team's machines) prevents: compile once, or every process compiles artrepo.
COMPILE := $(BIN)/python -m compileall -q artrepo

$(VENV)/.installed-base: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e '.[dask,examples]'
	$(COMPILE)
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e '.[dev,examples]'
	$(COMPILE)
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/python examples/quickstart.py
	$(BIN)/python examples/distributed.py

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-long: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider -m long

bench: $(VENV)/.installed-dev
	$(COMPILE)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
