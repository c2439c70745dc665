# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit test-integration lint format bench install compile uncompile system-deps kafka-jars browser-deps vitals-bundle readme-pictures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# tracker/core compiled with mypyc, in place: ~2x the events per CPU-second (README, Development).
# Rebuilt whenever a core module changes; without gcc it leaves the Python source to run.
# The stamp, not tracker/core/_compiled.json: without gcc there is no manifest, and every target
# would try again. `make compile` always builds.
CORE_STAMP := $(VENV)/.core-compiled
$(CORE_STAMP): $(STAMP) $(wildcard tracker/core/*.py) tracker/settings.py scripts/compile_core.py
	$(BIN)/python scripts/compile_core.py
	touch $(CORE_STAMP)

compile: $(STAMP)
	$(BIN)/python scripts/compile_core.py
	touch $(CORE_STAMP)

uncompile:
	$(PYTHON) scripts/compile_core.py --clean
	rm -f $(CORE_STAMP)

install: $(STAMP) $(CORE_STAMP)

demo: $(STAMP) $(CORE_STAMP)
	$(BIN)/tracker demo

# System packages the tests drive for real: promtool, Chromium, docker-compose (config only).
system-deps: $(STAMP)
	bash scripts/install-system-deps.sh
	bash tests/deploy/install.sh $(VENV)

kafka-jars:
	bash scripts/fetch-kafka.sh

# web-vitals and esbuild, pinned in scripts/vitals/package-lock.json: rebuilds the bundle inside
# tracker/static/tracker.js (committed, so the collector needs no Node; a test rebuilds and compares).
vitals-bundle:
	npm ci --prefix scripts/vitals --no-audit --no-fund --loglevel=error
	node scripts/vitals/build.mjs

# axe-core, pinned in tests/integration/a11y/package-lock.json: the browser tests' WCAG check;
# and the web-vitals build, for the test that rebuilds the bundle.
browser-deps:
	npm ci --prefix tests/integration/a11y --no-audit --no-fund --loglevel=error
	npm ci --prefix scripts/vitals --no-audit --no-fund --loglevel=error

# The README's pictures (docs/overview-page.png, overview-experience.png, demo-shop.png) from a fresh demo;
# READMEPICTURES_ARGS="--url http://127.0.0.1:6066/ --shop http://127.0.0.1:8088/demo/" uses a running one.
readme-pictures: $(STAMP)
	PYTHONPATH=. $(BIN)/python scripts/readme_pictures.py $(READMEPICTURES_ARGS)

# The unit tier twice: from the Python source (the fault-injection tests patch it), then with
# everything else against the compiled core, the form that ships.
test: $(STAMP) $(CORE_STAMP) system-deps kafka-jars browser-deps lint
	TRACKER_CORE=source $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# From the Python source: no rebuild after each edit.
test-unit: $(STAMP)
	TRACKER_CORE=source $(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP) $(CORE_STAMP)
	$(BIN)/python -m pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check --no-cache tracker tests bench
	$(BIN)/ruff format --no-cache --check tracker tests bench
	$(BIN)/mypy tracker

format: $(STAMP)
	$(BIN)/ruff format tracker tests bench
	$(BIN)/ruff check --fix tracker tests bench

bench: $(STAMP) $(CORE_STAMP) kafka-jars
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# False episodes and detection delays of the alerts on simulated traffic (~8 min; ALERTSIM_ARGS=--quick
# about a minute): rewrites the tables of ALERTS.md. Its fast part runs in `make test`.
.PHONY: alert-sim
alert-sim: $(STAMP)
	$(BIN)/python -m tracker.testing.alert_sim $(ALERTSIM_ARGS)

# Generated attacks for 10 minutes (FUZZ_SECONDS to change it): the property tests with
# many fresh examples, and a running collector and worker, round after round (RELIABILITY.md).
.PHONY: fuzz
fuzz: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/fuzz.sh

clean: uncompile
	rm -rf $(VENV) .tracker-data .cache/pytest
