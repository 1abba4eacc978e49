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

.PHONY: lab test test-fast test-seeds test-browser bench present clean

# First use: three steps, each announced, with pip's own output (what it fetches, its progress bars).
$(BIN)/.installed: pyproject.toml
	@echo "[1/3] creating $(VENV) with $(PYTHON) (once)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[2/3] installing $(TORCH) into $(VENV) (the largest download: a minute or more the first time)"
	$(BIN)/python -m pip install "$(TORCH)"
	@echo "[3/3] installing dlcore with JupyterLab, Voila and the test tools (.[dev])"
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $@
	@echo "set-up done: $(VENV) is ready (make clean removes it)"

# JUPYTER_CONFIG_PATH adds etc/jupyter's settings to your own (see etc/jupyter/README.md).
lab: $(BIN)/.installed
	JUPYTER_CONFIG_PATH=$(CURDIR)/etc/jupyter $(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG)

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

# Notebook run times and slider costs in the kernel; then slider drags in JupyterLab + Chromium
# (benchmarks/drag.py: frames per second, settle, key-to-paint; skipped without a Chromium).
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/drag.py

# Presenting: the notebooks as Voila apps (no code, live sliders) on 127.0.0.1, behind a token that
# Voila prints in its link. `make present NB=03` serves one notebook, plain `make present` the list.
# The copies in build/present/ have no exercises and no "the folded cell below" (tools/present.py).
# Leaving a page shuts its kernel at once (Voila's beforeunload beacon; tools/voila_config/voila.py
# sets the cookie the beacon needs). A page that could not say so (a killed browser, a sleeping
# laptop) has its kernel culled once no page is connected and it has been idle CULL_IDLE s, checked
# every CULL_EVERY s: freed within CULL_IDLE + CULL_EVERY s (90 by default). An open page is never
# culled, however long the presenter talks. The figures are in presenter mode.
NB         ?=
PORT       ?= 8866
CULL_IDLE  ?= 60
CULL_EVERY ?= 30
present: $(BIN)/.installed
	$(BIN)/python tools/present.py --out build/present $(NB)
	DLCORE_PRESENTER=1 $(BIN)/voila --no-browser --Voila.ip=127.0.0.1 --port=$(PORT) --Voila.auto_token=True \
	    --Voila.config_file_paths=$(CURDIR)/tools/voila_config --show_tracebacks=True \
	    --MappingKernelManager.cull_idle_timeout=$(CULL_IDLE) \
	    --MappingKernelManager.cull_interval=$(CULL_EVERY) --MappingKernelManager.cull_connected=False \
	    $(if $(NB),build/present/$(NB)_*.ipynb,build/present)

# Removes the virtual environment (.venv: the next make installs it again) and every build artefact.
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
