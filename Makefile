# Two commands: `make lab` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The torch release the lessons' checks were measured with. Installed first so that pip does
# not pick a larger build than needed; `make test TORCH=torch` takes the newest instead.
TORCH  ?= torch==2.13.0
# JupyterLab refuses to run as root unless told; add the flag only then.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Test workers: two processes, one thread each (two torch threads per worker on 2 cores is ~9x slower).
WORKERS ?= 2
# The SEEDs every notebook runs at again after nbval's SEED 0 (`make test-seeds SEEDS=0-9` for a sweep).
SEEDS ?= 1 2

.PHONY: lab test test-fast test-seeds test-browser bench clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

lab: $(BIN)/.installed
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG)

# 1) the library's tests and every notebook under nbval (at SEED 0), in parallel; 2) every notebook
# again at each of SEEDS, in parallel; 3) the notebooks in JupyterLab in a headless Chromium, alone
# (they time what a student feels). 3) is skipped, with the reason, where no Chromium is found;
# DLCORE_BROWSER_TESTS=required makes that a failure.
test: $(BIN)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope -m "not browser and not seeds" \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=300 tests notebooks
	$(MAKE) --no-print-directory test-seeds
	$(MAKE) --no-print-directory test-browser

# The lesson checks must hold for any draw: each notebook run with SEED = each of SEEDS injected
# after its parameters cell; a failure names the notebook, the SEED, the cell and the check.
test-seeds: $(BIN)/.installed
	OMP_NUM_THREADS=1 DLCORE_SEEDS="$(SEEDS)" $(BIN)/python -m pytest -n $(WORKERS) -m seeds tests

test-browser: $(BIN)/.installed
	$(BIN)/python -m pytest -m browser tests

# Only the library's unit tests (no notebooks): the quick loop while editing dlcore.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m "not browser and not seeds" tests

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build .pytest_cache
