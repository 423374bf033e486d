# Every target installs what it needs first, so each works on a fresh clone.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,spark,gcp,airflow,docs
export KEDRO_DISABLE_TELEMETRY := true
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install test lint format demo docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m uv --version >/dev/null 2>&1 || \
		{ $(PYTHON) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m ensurepip >/dev/null; \
		  $(PYTHON) -m pip install -q uv; }
	$(PYTHON) -m uv pip install --python $(PYTHON) -e ".[$(EXTRAS)]"
	touch $(STAMP)

# Worker processes for the suite, a test file at a time (tests/parallel.py); 0 runs it in one.
PYTEST_WORKERS ?= 2

test: install
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: install
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

demo: install
	$(PYTHON) examples/demo.py

docs: install
	$(PYTHON) docs/build.py

bench: install
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info .demo
