# Two commands do all the set-up: `make demo` and `make test` (see README.md).
# Each creates or updates .venv and installs what it needs; LocalStack and the Lambda
# runtimes are installed on first use into the user cache (~/.cache/pipeline-harness).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-arm64 lint unit e2e clean down help browser

help:
	@echo "make demo   bring the local stack up and run the demo"
	@echo "make test   lint and run the whole test suite"
	@echo "make test-arm64   the docker lane for linux/arm64, emulated (README: Docker)"
	@echo "make down   stop everything the harness started"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/harness demo

# PYTEST_WORKERS=N runs the suite on N pytest-xdist workers; the tests that drive a
# stack are spread over all but two of them (all but one up to four workers), six at
# most (HARNESS_XDIST_STACKS), each with a stack of its own beside the configured one
# (harness/testing/parallel.py). 9 by default: six stacks and three workers for the
# rest (README, "Testing"). PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 9
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# -rs: the summary lists each skipped test with its reason (the arm64 lane's, say).
# Bytecode is cached (in __pycache__, which git, the zips, the image and every digest
# leave out) even where PYTHONDONTWRITEBYTECODE is set, as on these machines: without
# it, each of the suite's pytest processes rewrote every test module's asserts again,
# 1.9 of the 3.3 CPU-s its collection took (2026-12-06).
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(PYTEST_PARALLEL) -rs --durations=15 $(PYTEST_ARGS)

# The docker lane (tests/docker) with the image built for linux/arm64 and the Compose
# demo run on it, under QEMU's emulation on an amd64 machine: not part of `make test`,
# whose 10-minute budget it would exceed alone (README, "The docker test lane").
test-arm64: $(STAMP)
	HARNESS_DOCKER_PLATFORM=linux/arm64 $(BIN)/python -m pytest tests/docker -rs --durations=15 $(PYTEST_ARGS)

unit: $(STAMP) browser
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# Headless Chromium (Debian package `chromium`) for the HTML report test: installed
# with apt-get once when missing, nothing to do afterwards.
browser: $(STAMP)
	@$(BIN)/python -m harness.observe.browser

down: $(STAMP)
	$(BIN)/harness down

clean: down
	rm -rf build .harness reports
