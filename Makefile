# Two commands for a new user: `make run` and `make test`. Both set up .venv themselves.
VENV := .venv
BIN := $(VENV)/bin
CONFIG := $(if $(wildcard config.yaml),config.yaml,config.example.yaml)
IS_311 := import sys; sys.exit(sys.version_info < (3, 11))

# The first Python >= 3.11 of python3.12, python3.11, python3.13, python3 (or PYTHON=...).
PYTHON ?= $(shell for p in python3.12 python3.11 python3.13 python3; do \
  $$p -c '$(IS_311)' >/dev/null 2>&1 && { echo $$p; break; }; done)

# A .venv whose python is gone or older than 3.11 (made by a wrong Python) is rebuilt.
ifneq ($(wildcard $(VENV)),)
ifneq ($(shell $(BIN)/python -c '$(IS_311)' >/dev/null 2>&1 && echo ok),ok)
$(info .venv was not made by a Python >= 3.11: rebuilding it)
$(shell rm -rf $(VENV))
endif
endif

.PHONY: chromium graphviz run test lint bench fakes clean mutate

$(BIN)/python:
	$(if $(and $(PYTHON),$(shell $(PYTHON) -c '$(IS_311)' >/dev/null 2>&1 && echo ok)),,$(error \
	  no Python >= 3.11 $(if $(PYTHON),(PYTHON=$(PYTHON) is not one),found (tried python3.12, python3.11, \
	  python3.13, python3)): install one, or run make PYTHON=/path/to/python3.11))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/orchestrator serve --config $(CONFIG)

# The browser tests drive Debian's chromium (Playwright never downloads one): installed with
# apt when missing and we are root; otherwise those tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 \
	      || echo "chromium could not be installed: the browser tests will skip"; \
	  else echo "no /usr/bin/chromium and not root: the browser tests will skip"; fi; fi

# `orchestrator graph` draws SVG with Debian's Graphviz: installed like chromium (else the
# studio's own layout draws it, and the Graphviz test skips saying why).
graphviz:
	@if ! command -v dot >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz) >/dev/null 2>&1 \
	      || echo "graphviz could not be installed: orchestrator graph uses the studio layout"; \
	  else echo "no graphviz (dot) and not root: orchestrator graph uses the studio layout"; fi; fi

# pytest runs last, so its summary is the run's closing line.
test: $(VENV)/.installed chromium graphviz
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/orchestrator check
	$(BIN)/orchestrator test --min-coverage 90
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python bench/collect.py

# A mutation run (not part of `make test`): MUTATE_ARGS="--sample 20" bounds it.
mutate: $(VENV)/.installed
	$(BIN)/python bench/mutate.py $(MUTATE_ARGS)

fakes: $(VENV)/.installed
	$(BIN)/python -m tests.fakes

clean:
	rm -rf $(VENV) .pytest_cache
