"""The queries of one draft read through the API (the benchmark's 50 pricing groups, with a
prepaid commit, a credit and a multiplier override): a fixed handful, none for the kinds of terms
the contract does not have (flags read with the contract, in the same request: a term added a
moment ago is in the next read). Runs on both event stores (`make test-chdb`)."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Contract
from invoicing.models import Invoice
from invoicing.selectors.contract_flags import any_holds, with_term_flags
from invoicing.services import contract_drafts_ensure
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CreditFactory,
    DiscountFactory,
    DiscountItemFactory,
    OverrideFactory,
)
from tests.invoicing.factories import (
    BillableMetricFactory,
    ContractFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    ingest,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 20, tzinfo=UTC)
GROUPS = 50
# The API token, the invoice with its contract and the contract's flags, the commits, the
# credits, their segments, the overrides, the rates, their products, the ledger, the store's
# usage read (none on ClickHouse), the payments extension: 11 (26 before the flags). Each read a
# regression adds fails this.
QUERIES_WITH_TERMS = 11
# Without commits, credits and overrides: their four reads and the ledger's are skipped.
QUERIES_WITHOUT_TERMS = 6
TERM_TABLES = (
    "customers_commit",
    "customers_credit",
    "customers_override",
    "customers_subscription",
    "customers_scheduledcharge",
    "customers_discount",
    "customers_proservice",
    "customers_contractusagefilter",
    "customers_ingestalias",
    "catalog_ratetier",
    "catalog_product_composite_products",
)


def _world():
    """50 FLAT rates (model-00 at 100 cents, ... model-49 at 149) and 10 tokens on each."""
    metric = BillableMetricFactory(group_keys=[["model_name"]])
    product = ProductFactory(
        billable_metric=metric, pricing_group_key=["model_name"], tags=["tokens"]
    )
    card = RateCardFactory()
    for index in range(GROUPS):
        RateFactory(
            rate_card=card,
            product=product,
            price=Decimal(100 + index),
            pricing_group_values={"model_name": f"model-{index:02d}"},
        )
    contract = ContractFactory(rate_card=card, starting_at=START)
    contract_drafts_ensure(contract=contract, now=NOW)
    ingest(
        [
            {
                "transaction_id": f"t-{index}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": f"2026-03-{2 + index % 17:02d}T10:00:00Z",
                "properties": {"model_name": f"model-{index:02d}", "num_tokens": "10"},
            }
            for index in range(GROUPS)
        ],
        now=NOW,
    )
    return contract, Invoice.objects.get(contract=contract, start_timestamp=START)


def _terms(contract):
    """A $200.00 prepaid commit, a $100.00 credit and 10% off every `tokens` product."""
    commit = CommitFactory(contract=contract, customer=contract.customer)
    AccessSegmentFactory(commit=commit, amount=Decimal("20000"), starting_at=START)
    credit = CreditFactory(contract=contract, customer=contract.customer)
    AccessSegmentFactory(commit=None, credit=credit, amount=Decimal("10000"), starting_at=START)
    OverrideFactory(contract=contract, starting_at=START)


def _table_read(query: dict) -> str:
    """The table of a query's first selected column (or of its first FROM)."""
    found = re.match(r'SELECT \(?"(\w+)"\.', query["sql"])
    return (found or re.search(r'FROM "(\w+)"', query["sql"])).group(1)


def _draft(api_client, invoice) -> dict:
    response = api_client.get(f"/v1/customers/{invoice.customer_id}/invoices/{invoice.id}")
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content, parse_float=Decimal)["data"]


def test_a_50_group_draft_with_a_commit_a_credit_and_an_override_is_read_in_11_queries(
    api_client, django_assert_max_num_queries
):
    contract, invoice = _world()
    _terms(contract)
    _draft(api_client, invoice)  # the API token's first use is not the read's

    with django_assert_max_num_queries(QUERIES_WITH_TERMS):
        data = _draft(api_client, invoice)

    usage = [line for line in data["line_items"] if line["type"] == "usage"]
    assert len(usage) == GROUPS
    # 10 tokens at 100..149 cents = 62,250, 10% off = 56,025; the credit and the commit draw
    # $300.00 of it.
    assert sum(Decimal(line["total"]) for line in usage) == Decimal("56025")
    assert Decimal(data["total"]) == Decimal("26025")


def test_a_draft_of_a_contract_without_terms_reads_none_of_their_tables(
    api_client, django_assert_max_num_queries
):
    _, invoice = _world()
    _draft(api_client, invoice)

    with (
        django_assert_max_num_queries(QUERIES_WITHOUT_TERMS),
        CaptureQueriesContext(connection) as read,
    ):
        data = _draft(api_client, invoice)

    assert Decimal(data["total"]) == Decimal("62250")
    assert [
        table for table in map(_table_read, read.captured_queries) if table in TERM_TABLES
    ] == []


def test_terms_added_after_a_read_are_in_the_next_read(api_client):
    contract, invoice = _world()
    assert Decimal(_draft(api_client, invoice)["total"]) == Decimal("62250")

    _terms(contract)
    discount = DiscountFactory(contract=contract)
    DiscountItemFactory(discount=discount, timestamp=START, amount=Decimal("25"))
    data = _draft(api_client, invoice)

    assert Decimal(data["total"]) == Decimal("26000")


def test_the_flags_say_which_terms_a_contract_has():
    contract, _ = _world()
    _terms(contract)
    other, _ = _world()

    loaded = {c.pk: c for c in with_term_flags(Contract.objects.all())}

    assert [
        term
        for term in ("commits", "credits", "overrides", "discounts", "aliases")
        if any_holds([loaded[contract.pk]], term)
    ] == ["commits", "credits", "overrides"]
    assert not any_holds([loaded[other.pk]], "commits")
    assert any_holds([loaded[other.pk], loaded[contract.pk]], "overrides")
    assert any_holds([Contract.objects.get(pk=other.pk)], "commits")  # loaded without flags
