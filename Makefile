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

.PHONY: lab test test-fast test-browser bench clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

lab: $(BIN)/.installed
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG)

# 1) the library's tests and every notebook under nbval, in parallel; 2) the notebooks in
# JupyterLab in a headless Chromium, alone (they time what a student feels). 2) is skipped, with
# the reason, where no Chromium is found; DLCORE_BROWSER_TESTS=required makes that a failure.
test: $(BIN)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope -m "not browser" \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=300 tests notebooks
	$(MAKE) --no-print-directory test-browser

test-browser: $(BIN)/.installed
	$(BIN)/python -m pytest -m browser tests

# Only the library's unit tests (no notebooks): the quick loop while editing dlcore.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build .pytest_cache
