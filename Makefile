# gradbook: `make notebooks` builds every notebook, `make test` runs the tests.
# Both create the virtual environment (.venv) from requirements.lock and pyproject.toml first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BUILD_FLAGS ?=
TEST_WORKERS ?= 2

.PHONY: notebooks exercises test check lab bench lock clean book

notebooks: $(STAMP)
	$(PY) build.py $(BUILD_FLAGS)

exercises: $(STAMP)
	$(PY) -m gradbook exercises

# The tests run in TEST_WORKERS processes (pytest-xdist); those sharing a costly fixture, the build
# of every notebook or the book, keep to one of them (tests/conftest.py). TEST_WORKERS=0: in one.
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_FLAGS)

check: $(STAMP)
	$(PY) build.py --check --quiet

book: $(STAMP)
	$(PY) -m gradbook book

bench: $(STAMP)
	$(PY) bench/build_speed.py
	$(PY) bench/derive_speed.py

lab: $(STAMP)
	$(VENV)/bin/pip install --quiet jupyterlab
	$(VENV)/bin/jupyter lab notebooks/

# The environment is rebuilt whenever the pins or the project metadata change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-pin: resolve pyproject.toml's ranges afresh in a scratch environment.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check '.[dev]'
	{ sed -n '1,2p' requirements.lock; .venv-lock/bin/pip freeze --all --exclude-editable | grep -v -e '^gradbook' -e '^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache
