# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   - create .venv, install, train PPO and compare it with random
#   make test   - create .venv, install, run the default test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: install demo test test-all docs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

DEMO_DIR := runs/demo
demo: $(STAMP)
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(VENV)/bin/testbed train ppo mujoco/InvertedPendulum-v5 --steps 30000 --seed 0 --out $(DEMO_DIR)/ppo
	$(VENV)/bin/testbed evaluate $(DEMO_DIR)/ppo mujoco/InvertedPendulum-v5 --episodes 20 --seed 1000 --db $(DEMO_DIR)/results.db
	$(VENV)/bin/testbed evaluate random mujoco/InvertedPendulum-v5 --episodes 20 --seed 1000 --db $(DEMO_DIR)/results.db
	$(VENV)/bin/testbed results $(DEMO_DIR)/results.db

# Two pytest workers (one per core on a 2-core CI machine); a file's tests stay on one
# worker, so module fixtures (the trained MARL learners) are built once.
PYTEST_PARALLEL := -n 2 --dist loadfile
test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_PARALLEL)

# The slow tests include a headless-Chromium check of the HTML report: install Debian's browser if missing.
test-all: $(STAMP)
	command -v chromium >/dev/null 2>&1 || (apt-get install -y -q chromium >/dev/null || sudo apt-get install -y -q chromium)
	$(PY) -m pytest -q -m '' $(PYTEST_PARALLEL)

# The documentation site (MkDocs + mkdocstrings) into site/, warnings as errors
# (tests/test_docs.py builds it in the default test run too).
docs: $(STAMP)
	$(PY) -m mkdocs build --strict -d site

clean:
	rm -rf $(VENV) runs site *.egg-info
