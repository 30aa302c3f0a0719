# The two set-up commands: `make run` and `make test`. Both create .venv and install on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# `make run PORT=8001` serves on another port (when 8000 is taken).
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-chdb lint bench install

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_schedules
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py ensure_access --port $(PORT)
	$(PY) manage.py serve --addr 127.0.0.1:$(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --no-cache
	DJANGO_SETTINGS_MODULE=billing_site.settings.test $(PY) manage.py makemigrations --check --dry-run

# On SQLite (no DATABASE_URL), `make test` also runs the event-store suites on the ClickHouse store.
test: lint
	$(PY) -m pytest
	@if [ -z "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory test-chdb; fi

# Metering, SQL metrics, the golden invoices, the SDK's ingest flows and the draft suites whose
# events go in through the store (tests/invoicing/factories.ingest), again with events in an
# in-process ClickHouse (chdb) in a fresh temporary directory: both stores must give the same numbers.
CHDB_TESTS := tests/metering tests/api/test_sql_metrics.py tests/invoicing/test_golden_e2e.py \
	tests/invoicing/test_golden_e2e_terms.py tests/invoicing/test_golden_contract_terms.py tests/invoicing/test_draft_read_at_scale.py \
	tests/invoicing/test_draft_read_wire.py \
	tests/invoicing/test_draft_read_queries.py \
	tests/compat/test_sdk_golden.py tests/compat/test_sdk_full_flow.py \
	tests/api/test_contract_changes.py tests/api/test_threshold_billing.py \
	tests/api/test_threshold_terms.py tests/compat/test_sdk_commit_specifiers.py \
	tests/api/test_product_order.py tests/invoicing/test_services.py \
	tests/invoicing/test_scheduled_invoices.py tests/invoicing/test_terms_db.py \
	tests/invoicing/test_rollover_db.py tests/invoicing/test_customer_scope_db.py \
	tests/invoicing/test_key_subset_invoice.py tests/invoicing/test_selectors.py \
	tests/api/test_previews.py tests/customers/test_hierarchy_api.py
test-chdb: $(STAMP)
	@store=$$(mktemp -d /tmp/event-store.XXXXXX); trap 'rm -rf "$$store"' EXIT; \
	echo "=== event-store suites on EVENT_STORE_URL=chdb://$$store ==="; \
	EVENT_STORE_URL=chdb://$$store $(PY) -m pytest -q $(CHDB_TESTS)

bench: $(STAMP)
	$(PY) benchmarks/run.py
