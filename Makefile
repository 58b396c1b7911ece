# influxdb-datalogger — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Test tools, and the original package the differential tests compare against.
PY_TOOLS := "maturin>=1.7,<2" "pytest>=8" "pytest-xdist>=3.6" "mypy>=1.10" "ruff>=0.5" "typing_extensions>=4.15" \
	"grafana-foundation-sdk==1769699998!10.1.0"
ORIGINAL_PACKAGE := influxdb-datalogger==2.4.2
export INFLUXDB_DATALOGGER_ORIGINAL := $(abspath $(VENV))/original
# pytest-benchmark, kept apart from the test environment (its plugin would load in every run),
# for the tests of `import pytest-benchmark`.
BENCHMARK_TOOLS := pytest-benchmark>=5,<6 py-cpuinfo>=9
export INFLUXDB_DATALOGGER_BENCHMARK_TOOLS := $(abspath $(VENV))/benchmark-tools

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: demo
demo: ## Build and run the demo workload into ./influxdb-datalogger.lp and its report ./influxdb-datalogger.html (no server needed)
	$(CARGO) run --quiet -p influxdb-datalogger-cli -- demo

.PHONY: report-demo
report-demo: browser-deps ## The demo's report, screenshot by headless chromium: target/report.png (and docs/report.png for the README)
	mkdir -p target/report-demo
	rm -f target/report-demo/demo.lp
	for round in 1 2 3 4 5 6; do $(CARGO) run --quiet -p influxdb-datalogger-cli -- demo --rounds 4 --file target/report-demo/demo.lp >/dev/null; done
	$(CARGO) run --quiet -p influxdb-datalogger-cli -- report target/report-demo/demo.lp --measurement demo_sort --title "influxdb-datalogger demo: sorting" -o target/report-demo/demo.html
	$(PYTHON) scripts/screenshot.py target/report-demo/demo.html target/report.png --size 1280,1000
	cp target/report.png docs/report.png

.PHONY: browser-deps
browser-deps: ## Install Debian's chromium (headless, for the report's browser tests), if missing
	@if command -v chromium >/dev/null; then :; else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

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

# Other platforms: macOS is checked with clippy (its linker and SDK are not here); Windows is
# built with mingw-w64, and the core's tests run under Wine (see docs/platforms.md).
APPLE_TARGETS := x86_64-apple-darwin aarch64-apple-darwin
WINDOWS := x86_64-pc-windows-gnu
WINE = $(firstword $(wildcard /usr/lib/wine/wine64 /usr/bin/wine64 /usr/bin/wine))
WINE_PREFIX := $(abspath target/wine-prefix)

.PHONY: platform-deps
platform-deps: ## rustup targets for macOS and Windows; Debian's mingw-w64 and Wine, if missing
	rustup target list --installed | grep -qx $(WINDOWS) && rustup target list --installed | grep -qx aarch64-apple-darwin \
		&& rustup target list --installed | grep -qx x86_64-apple-darwin || rustup target add $(APPLE_TARGETS) $(WINDOWS)
	@if command -v x86_64-w64-mingw32-gcc >/dev/null && test -n "$(WINE)"; then :; else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 wine64; fi

.PHONY: check-platforms
check-platforms: platform-deps test-windows windows-wheel ## clippy for macOS and Windows, the core's tests under Wine, the Windows wheel
	for target in $(APPLE_TARGETS); do \
		env CC_$${target//-/_}=/bin/true AR_$${target//-/_}=/bin/true \
			$(CARGO) clippy --workspace --all-targets --target $$target -- -D warnings || exit 1; \
	done
	$(CARGO) clippy --workspace --all-targets --target $(WINDOWS) -- -D warnings

.PHONY: test-windows
test-windows: platform-deps ## The core crate's tests built for Windows and run under Wine
	mkdir -p target/wine
	x86_64-w64-mingw32-gcc -shared -O2 -o target/wine/bcryptprimitives.dll scripts/wine/bcryptprimitives.c -ladvapi32
	test -d $(WINE_PREFIX)/drive_c/windows/system32 || WINEPREFIX=$(WINE_PREFIX) WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" $(WINE) wineboot -i
	cp target/wine/bcryptprimitives.dll $(WINE_PREFIX)/drive_c/windows/system32/
	WINEPREFIX=$(WINE_PREFIX) WINEDEBUG=-all INFLUXDB_DATALOGGER_TESTS_UNDER_WINE=1 \
		CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$(WINE) \
		$(CARGO) test -p influxdb-datalogger --target $(WINDOWS)

.PHONY: windows-wheel
windows-wheel: python-env platform-deps ## The Python wheel for Windows; its module must import only python3.dll and system DLLs
	rm -rf target/wheels-windows
	$(VENV)/bin/maturin build --quiet --target $(WINDOWS) --out target/wheels-windows
	$(PY) scripts/check_windows_wheel.py target/wheels-windows/*.whl

.PHONY: test-rust
test-rust: ## Rust unit, property, integration and doc tests
	$(CARGO) test --workspace

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/original "$(ORIGINAL_PACKAGE)"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/benchmark-tools $(foreach t,$(BENCHMARK_TOOLS),"$(t)")
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
test-integration: servers-deps browser-deps ## Tests against real InfluxDB 1.6 and VictoriaMetrics (each test starts its own), and in headless chromium
	$(CARGO) test -p influxdb-datalogger --test influx_real --test influx_recovery --test attribute -- --ignored
	$(CARGO) test -p influxdb-datalogger-cli --test cli --test results --test report --test browser -- --ignored

.PHONY: test
test: lint check-msrv check-features check-platforms test-rust lint-python test-python test-integration ## Install what is needed and run every check and test

.PHONY: bench
bench: ## Criterion benchmarks against peer crates (release build; see bench/RESULTS.md)
	cd bench && $(CARGO) clippy --all-targets -- -D warnings
	cd bench && $(CARGO) bench --bench encode

.PHONY: bench-regressions
bench-regressions: ## How well change points find steps and ignore noise, on synthetic histories (see bench/RESULTS.md)
	cd bench && $(CARGO) run --release --quiet --example regressions_quality

.PHONY: bench-report
bench-report: browser-deps ## The HTML report of 1,000,000 points: time, size, and chromium's time to show it (see bench/RESULTS.md)
	cd bench && $(CARGO) clippy --all-targets -- -D warnings
	$(PYTHON) bench/report_bench.py

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
