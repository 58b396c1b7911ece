# influxdb-datalogger — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
CARGO ?= cargo

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

.PHONY: test-rust
test-rust: ## Rust unit, property, integration and doc tests
	$(CARGO) test --workspace

.PHONY: test
test: lint test-rust ## Install what is needed and run every check and test

.PHONY: bench
bench: ## Criterion benchmarks against peer crates (release build; see bench/RESULTS.md)
	cd bench && $(CARGO) clippy --all-targets -- -D warnings
	cd bench && $(CARGO) bench --bench encode

.PHONY: clean
clean: ## Remove build output
	$(CARGO) clean
	cd bench && $(CARGO) clean
