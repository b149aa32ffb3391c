# One obvious way to run things: make demo, make test, make lint, make bench; make unit for the fast
# tests (those not marked slow) before a commit.
# The venvs are made with the Python scripts/find-python.sh picks (python3.12, the Lambda runtime,
# first); `make PYTHON=/path/to/python3.X ...` names another. Installs use uv, bootstrapped by pip,
# from hashed locks (make lock).
PYTHON ?=
VENV := .venv
TOOLS := .venv-tools
BIN := $(VENV)/bin
UV_HOME := .cache/uv
UV := $(UV_HOME)/bin/uv
CHROMIUM := .cache/chromium
FIND_PYTHON = $$(PYTHON='$(PYTHON)' scripts/find-python.sh)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Single-threaded BLAS: training is parallelised by the workflow's branches, not inside numpy.
export OPENBLAS_NUM_THREADS := 1

.PHONY: demo test unit lint pytest bench clean lock

$(UV): requirements/uv.txt
	@echo "installing uv into $(UV_HOME) (about 15 seconds)"
	python=$(FIND_PYTHON) && "$$python" -m venv --clear $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --require-hashes -r requirements/uv.txt
	touch $@

$(VENV)/.installed: requirements/dev.txt pyproject.toml $(UV)
# --compile-bytecode: uv writes no .pyc by default, and where Python cannot write them either
# (PYTHONDONTWRITEBYTECODE, a read-only venv) every test run, `sweep` and Lambda container compiled
# moto, botocore and scipy again on import (13 s of make unit's CPU on this machine).
	@echo "installing the project's Python packages into $(VENV) (about a minute the first time)"
	python=$(FIND_PYTHON) && $(UV) venv --quiet --clear --python "$$python" $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python requirements/dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(TOOLS)/.installed: requirements/tools.txt $(UV)
	@echo "installing the template linters into $(TOOLS) (about 20 seconds the first time)"
	python=$(FIND_PYTHON) && $(UV) venv --quiet --clear --python "$$python" $(TOOLS)
	$(UV) pip sync --quiet --python $(TOOLS)/bin/python requirements/tools.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "installing the Node tools and the headless Chromium package (about 15 seconds the first time)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The report tests' browser, unpacked from the npm package @sparticuz/chromium (no apt, no root).
$(CHROMIUM)/.installed: node_modules/.installed scripts/unpack-chromium.mjs
	@echo "unpacking headless Chromium into $(CHROMIUM) (about 10 seconds)"
	node scripts/unpack-chromium.mjs $(CHROMIUM)
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sweep demo

lint: $(VENV)/.installed $(TOOLS)/.installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions objective_sweep tests benchmarks
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml --region us-east-1
	npx --no-install asl-validator --json-path statemachine/objective_sweep.asl.json
	$(TOOLS)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

pytest: $(VENV)/.installed $(CHROMIUM)/.installed
	$(BIN)/pytest

test: lint pytest

# The tests not marked slow (no whole workflow, no real MovieLens training), on every core (about
# 32 s on 2 idle cores, 46 s in one process); the pre-commit hook runs them.
unit: $(VENV)/.installed $(CHROMIUM)/.installed
	$(BIN)/pytest -q -m "not slow" -n auto

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks $(BENCH)

# Re-resolves the .in files into hashed locks for every platform and Python >= 3.11, keeping the
# current pins where they still fit; `make lock UPGRADE=--upgrade` moves everything to the newest.
# layers/dependencies/requirements.txt must then carry dev.txt's versions (a unit test checks).
LOCK = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(UPGRADE)
lock: $(UV)
	$(LOCK) requirements/dev.in -o requirements/dev.txt
	$(LOCK) requirements/tools.in -o requirements/tools.txt
	$(LOCK) requirements/uv.in -o requirements/uv.txt

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .cache .mypy_cache .ruff_cache .pytest_cache .aws-sam
