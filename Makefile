# snapscribe: `make run` starts the local stack, `make test` runs the whole suite. Both install what is
# missing first (a virtualenv in .venv from requirements/), so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
DEV_API_KEY ?=
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test lint format typecheck validate unit integration e2e bench eval openapi build clean

TESSDATA := $(VENV)/share/tessdata
TESSDATA_STAMP := $(TESSDATA)/.installed
TEST_FONTS := $(VENV)/share/fonts
TEST_FONTS_STAMP := $(TEST_FONTS)/.installed

# uv (from PyPI, into the virtualenv) installs the same pins as pip in less than half the time: 15 s against 35 s
# for a fresh virtualenv on a 2-core machine, bytecode compiled by both. pip installs them where uv cannot be had.
UV := uv==0.13.9
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
UV_PIP := $(BIN)/python -m uv pip install --quiet --python $(BIN)/python

$(STAMP): requirements/dev.txt requirements/ocr.txt layers/core/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "snapscribe needs Python 3.11+ (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(PIP) $(UV); then \
		echo "uv pip install -r requirements/dev.txt"; \
		$(UV_PIP) --compile-bytecode -r requirements/dev.txt && $(UV_PIP) --no-deps --no-build-isolation -e .; \
	else \
		echo "uv could not be installed: pip install -r requirements/dev.txt"; \
		$(PIP) --upgrade pip && $(PIP) -r requirements/dev.txt && $(PIP) --no-deps --no-build-isolation -e .; \
	fi
	@touch $(STAMP)

# The local engine's models for Arabic, Cyrillic, Devanagari, Hangul, ... scripts (tessdata_fast, from Debian's
# packages, pinned by sha256), fetched and unpacked into the virtualenv by Python alone: no apt, nothing installed
# system-wide. The fetcher swaps the folder in whole once every file is verified, so a failed run keeps the old one.
$(TESSDATA_STAMP): requirements/tessdata.txt tools/fetch_files.py | $(STAMP)
	$(PYTHON) tools/fetch_files.py requirements/tessdata.txt $(TESSDATA)
	@touch $(TESSDATA_STAMP)

# Fonts the suite renders lines of the scripts ../shared/eval has no image of in (the same way).
$(TEST_FONTS_STAMP): requirements/test-fonts.txt tools/fetch_files.py | $(STAMP)
	$(PYTHON) tools/fetch_files.py requirements/test-fonts.txt $(TEST_FONTS)
	@touch $(TEST_FONTS_STAMP)

run: $(STAMP) $(TESSDATA_STAMP)
	@$(BIN)/snapscribe run --port $(PORT) --dev-key "$(DEV_API_KEY)"

# The suite on both cores (pytest-xdist: tests/conftest.py keeps each module, and the e2e modules of the shared stack,
# on one worker), with lint and validate beside it (mypy, cfn-lint, sam and checkov are single-threaded): their output is kept in a file and printed after the tests', and either failing fails make
# test. The 25 slowest tests are listed at the end: where the run's time goes.
TEST_WORKERS ?= 2
CHECKS_LOG := $(VENV)/lint-validate.log

test: $(STAMP) $(TESSDATA_STAMP) $(TEST_FONTS_STAMP)
	@$(MAKE) --no-print-directory lint validate > $(CHECKS_LOG) 2>&1 & checks=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25; tests=$$?; \
	wait $$checks; checked=$$?; \
	echo "--- make lint validate, run beside the tests (exit $$checked) ---"; cat $(CHECKS_LOG); \
	test $$tests -eq 0 -a $$checked -eq 0

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# checkov pins boto3 1.35 and the project 1.43: it runs from a virtualenv of its own, its pins in requirements/checkov.txt
# (about 11 s to install with uv's cache, 14 s without).
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements/checkov.txt | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@if $(BIN)/python -m uv --version >/dev/null 2>&1; then \
		$(BIN)/python -m uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements/checkov.txt; \
	else \
		$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt; \
	fi
	@touch $(CHECKOV_STAMP)

# Three linters of the template: cfn-lint with AWS's serverless rules (cfn-lint-serverless), SAM's own, and checkov
# with the checks that do not apply listed in .checkov.yaml, each with why. None needs the network: checkov
# downloads no external checks and fetches no mappings (BC_SKIP_MAPPING), and has no API key.
validate: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam validate --lint
	BC_SKIP_MAPPING=TRUE BC_API_KEY= $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

unit: $(STAMP) $(TESSDATA_STAMP) $(TEST_FONTS_STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) $(TESSDATA_STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP) $(TESSDATA_STAMP)
	$(BIN)/python -m pytest tests/e2e

bench: $(STAMP) $(TESSDATA_STAMP)
	$(BIN)/python -m snapscribe_tools.bench $(BENCH)

eval: $(STAMP) $(TESSDATA_STAMP)
	$(BIN)/python -m snapscribe_tools.evaluate $(EVAL_ARGS)

# docs/openapi.json: the document GET /openapi.json serves (a test fails when the committed copy is stale).
openapi: $(STAMP)
	$(BIN)/python -m snapscribe_tools.openapi

# sam build where Docker runs; without Docker, the zip functions and the layer, and it lists the image functions
# it could not build (exit 0: what could be built was). Extra sam options: make build SAM_BUILD_ARGS="--debug".
build: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m snapscribe_tools.build $(SAM_BUILD_ARGS)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .snapscribe
