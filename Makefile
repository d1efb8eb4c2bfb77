# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install system-deps test-deps asterisk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP) system-deps

# espeak-ng, ffmpeg and sox from Debian's packages, when missing.
system-deps:
	scripts/install-system-deps

demo: $(STAMP) system-deps
	$(BIN)/service-tracker demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The cached Debian-sid root with Asterisk 22 the end-to-end tests run (built once).
asterisk:
	scripts/asterisk-sandbox build >/dev/null

# Chromium too, for the admin site's browser tests.
test-deps:
	scripts/install-system-deps tests

test: $(STAMP) test-deps asterisk
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.ussd_load
