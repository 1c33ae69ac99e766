# The two commands: `make demo` runs the pipeline end to end, `make test` runs the whole suite.
# Both install what they need first (scripts/bootstrap.sh); configuration lives in scripts/env.sh.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install db db-stop demo test lint ddl airflow portal bench clean

help:
	@echo "make demo     run the pipeline end to end (installs, starts a local PostgreSQL if none is configured)"
	@echo "make test     lint + the whole test suite"
	@echo "make airflow  Airflow UI on http://localhost:8080 with this project's DAGs (and the manager portal)"
	@echo "make portal   the manager portal alone, on http://localhost:8090 (include/portal)"
	@echo "              ports: LOCAL_PG_PORT, MAIL_SINK_PORT, AIRFLOW__API__PORT, PORTAL_PORT (README, Configuration)"
	@echo "make bench    benchmarks (bench/results/S.md); BENCH_ARGS=\"--scale M\" etc., see python -m bench --help"
	@echo "make ddl      write the published tables' DDL and docs from spark_jobs/registry.py"
	@echo "make db / db-stop   start / stop the project-local PostgreSQL"
	@echo "make clean    stop the local cluster and remove .local/ (all local data)"

install: .venv/.installed

.venv/.installed: requirements.txt requirements-dev.txt constraints.txt scripts/bootstrap.sh
	scripts/bootstrap.sh

db: install
	@$(ENV) if [ -n "$${USE_LOCAL_PG:-}" ]; then python -m tools.localpg start; \
	  else echo "using the configured warehouse database (AIRFLOW_CONN_WAREHOUSE_DB)"; fi

db-stop:
	@$(ENV) python -m tools.localpg stop

demo: db
	@$(ENV) python -m tools.demo

lint: install
	@$(ENV) ruff check dags include spark_jobs tests scripts docker bench tools && ruff format --check --quiet dags include spark_jobs tests scripts docker bench tools \
	  || { echo "lint failed: run 'ruff check --fix' and 'ruff format' (from .venv/bin)"; exit 1; }

ddl: install
	@$(ENV) python -m spark_jobs.registry --write

test: lint db
	@$(ENV) rc=0; python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): nothing selected by PYTEST_ARGS='$(PYTEST_ARGS)'"; rc=0; fi; \
	  exit $$rc

airflow: db
	@$(ENV) scripts/airflow.sh

portal: db
	@$(ENV) scripts/portal.sh

bench: db
	@$(ENV) python -m bench $(BENCH_ARGS)

clean: db-stop
	rm -rf .local
