# The two commands a new user needs: `make demo` (set up, run the main job, show hotspots) and
# `make test` (set up, run the tests). Both create .venv from requirements.lock when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export ISTV_HOME ?= $(CURDIR)/istv_home
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: demo test test-fast postgres-server lint bench bench-privacy bench-locations dagster-ui check-defs lock clean
SIZE ?= city

$(BIN)/istv: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(BIN)/istv

demo: $(BIN)/istv
	$(BIN)/istv demo

# The report's browser test needs Chromium (a system package, not a Python one): installed here
# when the machine lets us (root with apt-get), else the exact command is printed and make stops.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
	  echo "The tests need Chromium: run  sudo apt-get install -y chromium chromium-driver  then make test again"; exit 1; \
	fi

# The hub's tests start a real PostgreSQL server (tests/postgres_server.py) from the Debian
# packages' binaries: installed here when the machine lets us, else the exact command is printed.
postgres-server:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else \
	  echo "The tests need PostgreSQL: run  sudo apt-get install -y postgresql  then make test again"; exit 1; \
	fi

# Lint and format (ruff) and the import contract between the layers (import-linter, pyproject.toml).
lint: $(BIN)/istv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Every test in CI (.ci/run sets CI=true); elsewhere the tests marked slow (the hub's PostgreSQL,
# DuckLake and Kubernetes checks, whole months through Dagster, the benchmark smoke run) are left
# to CI, keeping this near ten minutes on two cores: `make test CI=true` runs them here too.
test: $(BIN)/istv $(CHROMIUM) postgres-server lint
	$(BIN)/python -m pytest -q $(if $(filter true,$(CI)),,-m "not slow")

test-fast: $(BIN)/istv
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(BIN)/istv
	$(BIN)/python -m benchmarks.run --size $(SIZE)

bench-privacy: $(BIN)/istv
	$(BIN)/python -m benchmarks.privacy

bench-locations: $(BIN)/istv
	$(BIN)/python -m benchmarks.locations

check-defs: $(BIN)/istv
	$(BIN)/dg check defs

dagster-ui: $(BIN)/istv
	$(BIN)/istv ui

lock: $(BIN)/istv
	$(BIN)/python -m pip install --quiet uv && $(BIN)/uv pip compile requirements.in --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(ISTV_HOME)
