# influxdb-datalogger — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Test tools, and the original package the differential tests compare against.
PY_TOOLS := "maturin>=1.7,<2" "pytest>=8" "pytest-xdist>=3.6" "mypy>=1.10" "ruff>=0.5" "typing_extensions>=4.15"
ORIGINAL_PACKAGE := influxdb-datalogger==2.4.2
export INFLUXDB_DATALOGGER_ORIGINAL := $(abspath $(VENV))/original

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: demo
demo: ## Build and run the demo workload into ./influxdb-datalogger.lp (no server needed)
	$(CARGO) run --quiet -p influxdb-datalogger-cli -- demo

.PHONY: lint
lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all --check
	cd bench && $(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p influxdb-datalogger --no-default-features --features chrono,time --all-targets -- -D warnings

# The oldest Rust the crates declare (workspace rust-version), checked as such.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

.PHONY: check-msrv
check-msrv: ## cargo check on the declared minimum Rust version (installs it with rustup if missing)
	rustup toolchain list | grep -q '^$(MSRV)' || rustup toolchain install $(MSRV) --profile minimal
	$(CARGO) +$(MSRV) check --workspace --all-targets

.PHONY: check-features
check-features: ## The core without HTTP (no C dependency), and with the chrono/time conversions
	$(CARGO) tree -p influxdb-datalogger --no-default-features -e normal,build --prefix none \
		| grep -E '^(ring|cc|ureq) ' && { echo "a C or HTTP dependency without the http feature"; exit 1; } || true
	$(CARGO) test -p influxdb-datalogger --no-default-features --features chrono,time --lib --tests --quiet

.PHONY: test-rust
test-rust: ## Rust unit, property, integration and doc tests
	$(CARGO) test --workspace

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/original "$(ORIGINAL_PACKAGE)"
	touch $@

.PHONY: python-env
python-env: $(VENV)/.installed ## Create .venv with maturin, pytest, mypy, ruff and the original package

.PHONY: wheel
wheel: python-env ## Build the Python wheel (abi3) and install it into .venv
	rm -rf target/wheels
	$(VENV)/bin/maturin build --quiet --out target/wheels
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/*.whl

.PHONY: lint-python
lint-python: python-env ## ruff and mypy (strict)
	$(VENV)/bin/ruff check python tests bench scripts
	$(VENV)/bin/ruff format --check python tests bench scripts
	$(VENV)/bin/mypy

.PHONY: test-python
test-python: wheel servers-deps ## Python tests against the built wheel, and the stub checked by stubtest
	cd tests && ../$(PY) -m mypy.stubtest influxdb_datalogger._native
	$(PY) -m pytest

.PHONY: servers-deps
servers-deps: ## Install Debian's influxdb (1.6) and victoria-metrics, if missing
	@if command -v influxd >/dev/null && command -v victoria-metrics >/dev/null; then :; else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb victoria-metrics; fi

.PHONY: servers-up
servers-up: servers-deps ## Start InfluxDB 1.6 and VictoriaMetrics on free loopback ports (see .servers/state.json)
	$(PYTHON) scripts/servers.py up

.PHONY: servers-down
servers-down: ## Stop the servers servers-up started
	$(PYTHON) scripts/servers.py down

.PHONY: test-integration
test-integration: servers-deps ## Tests against real InfluxDB 1.6 and VictoriaMetrics (each test starts its own)
	$(CARGO) test -p influxdb-datalogger --test influx_real --test influx_recovery -- --ignored
	$(CARGO) test -p influxdb-datalogger-cli --test cli -- --ignored

.PHONY: test
test: lint check-msrv check-features test-rust lint-python test-python test-integration ## Install what is needed and run every check and test

.PHONY: bench
bench: ## Criterion benchmarks against peer crates (release build; see bench/RESULTS.md)
	cd bench && $(CARGO) clippy --all-targets -- -D warnings
	cd bench && $(CARGO) bench --bench encode

.PHONY: release-wheel
release-wheel: python-env ## Build the wheel in release mode (for benchmarks) and install it into .venv
	rm -rf target/wheels
	$(VENV)/bin/maturin build --release --quiet --out target/wheels
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/*.whl

.PHONY: bench-python
bench-python: release-wheel ## Python benchmarks against the original package and peers (release wheel)
	$(PY) -m pip install --quiet --disable-pip-version-check "influxdb-client==1.50.0" "questdb==6.0.0"
	$(PY) bench/python_bench.py

.PHONY: bench-pytest
bench-pytest: release-wheel ## The pytest plugin's overhead: 2,000 empty tests with it on versus off
	$(PY) bench/pytest_plugin_bench.py

.PHONY: bench-delivery
bench-delivery: release-wheel servers-deps ## 1,000,000 points to InfluxDB 1.6 and VictoriaMetrics vs the server's ceiling and influxdb-client
	$(PY) -m pip install --quiet --disable-pip-version-check "influxdb-client==1.50.0"
	$(PY) bench/delivery_bench.py

.PHONY: clean
clean: ## Remove build output and the Python environment
	$(CARGO) clean
	cd bench && $(CARGO) clean
	rm -rf $(VENV)
