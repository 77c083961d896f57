# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The first Python >= 3.11 that runs; stderr is dropped because a pyenv shim of a version
# that is not selected answers `command -v` and then prints "command not found" when run.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: demo test lint typecheck pytest bench clean venv system-deps

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "gameday needs Python >= 3.11 on PATH (python3.11, python3.12 or python3)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	@bash scripts/ensure-system-deps.sh

test: venv system-deps lint typecheck pytest

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# A short game day on the sample shop, on embedded defaults (no Docker): three experiments,
# each under load with a baseline, a fault window and a recovery; verdicts and reports.
DEMO_EXPERIMENTS ?= sample_system/experiments/payments-down.yaml \
	sample_system/experiments/reviews-down.yaml \
	sample_system/experiments/payments-replica-killed.yaml

demo: venv
	$(VENV)/bin/gameday run $(DEMO_EXPERIMENTS)

bench: venv
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; flock /tmp/gameday-heavy.lock $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .gameday .pytest_cache .mypy_cache .ruff_cache
