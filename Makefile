# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install postgres run test test-fast bench lint clean

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev,scale]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m recsys.cli.run

# The PostgreSQL server binaries (initdb, pg_ctl) the scale tests start a throwaway cluster with: Debian's
# `postgresql` package, installed when missing (as root, as on CI). No default cluster is created or started.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf && \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold postgresql; \
	  else echo "PostgreSQL server missing: run 'sudo apt-get install postgresql' (tests/test_scale_postgres.py needs initdb)" >&2; exit 1; fi; }

test: $(STAMP) postgres
	$(BIN)/python -m pytest -q

# The fast tier (under a minute): everything but the tests marked `slow` (wheel, serving, sweeps, small data).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The city-scale figures (tens of minutes, several GB each) run only when asked: make bench BENCH_ARGS=--city
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check recsys tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache build
