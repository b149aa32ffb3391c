# One obvious way to run things: make demo, make test, make lint, make bench.
PYTHON ?= python3.11
VENV := .venv
TOOLS := .venv-tools
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Single-threaded BLAS: training is parallelised by the workflow's branches, not inside numpy.
export OPENBLAS_NUM_THREADS := 1

.PHONY: demo test lint pytest bench clean lock

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r requirements/tools.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
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

pytest: $(VENV)/.installed
	$(BIN)/pytest

test: lint pytest

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks $(BENCH)

lock:
	$(PYTHON) -m venv /tmp/objective-sweep-lock && /tmp/objective-sweep-lock/bin/pip install --quiet -r requirements/dev.in \
	  && /tmp/objective-sweep-lock/bin/pip freeze > requirements/dev.txt

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .mypy_cache .ruff_cache .pytest_cache .aws-sam
