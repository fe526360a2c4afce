# Two commands for a new user: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG := $(if $(wildcard config.yaml),config.yaml,config.example.yaml)

.PHONY: chromium run test lint bench fakes clean mutate

$(BIN)/python:
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

# pytest runs last, so its summary is the run's closing line.
test: $(VENV)/.installed chromium
	$(BIN)/ruff check .
	$(BIN)/orchestrator check
	$(BIN)/orchestrator test --min-coverage 90
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed
	$(BIN)/python bench/collect.py

# A mutation run (not part of `make test`): MUTATE_ARGS="--sample 20" bounds it.
mutate: $(VENV)/.installed
	$(BIN)/python bench/mutate.py $(MUTATE_ARGS)

fakes: $(VENV)/.installed
	$(BIN)/python -m tests.fakes

clean:
	rm -rf $(VENV) .pytest_cache
