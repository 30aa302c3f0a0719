"""The finance desk in Chromium: money typed in dollars, a viewer refused, a chart drawn with
data, every list without horizontal scroll at 1366 px, the invoice and contract pages on a 390 px
phone."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import Rate
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure
from metering.services import usage_events_ingest
from roles.definitions import FINANCE_VIEWER
from tests.browser.conftest import field, login, no_horizontal_scroll, right_edge
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
    RateTierFactory,
)
from tests.customers.factories import ContractFactory, CustomerFactory, IngestAliasFactory


@pytest.fixture
def acme(world_db):
    """The quickstart's world made directly: Input Tokens priced per million by model (model-A
    flat $1.50, model-C tiered $1.00 then $0.80), Acme AI (alias acme-prod) on a contract from the
    first of this month, 2 million model-A and 1.5 million model-C tokens an hour ago."""
    metric = BillableMetricFactory(
        name="Input Tokens",
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[["model_name", "user_id"]],
    )
    product = ProductFactory(
        name="Input Tokens",
        billable_metric=metric,
        pricing_group_key=["model_name"],
        quantity_conversion_factor=Decimal(1_000_000),
        quantity_conversion_operation="DIVIDE",
        quantity_conversion_name="million tokens",
    )
    card = RateCardFactory(name="Standard Rate Card")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    RateFactory(
        rate_card=card,
        product=product,
        price=Decimal("150"),
        pricing_group_values={"model_name": "model-A"},
        starting_at=start,
    )
    tiered = RateFactory(
        rate_card=card,
        product=product,
        rate_type="TIERED",
        price=None,
        pricing_group_values={"model_name": "model-C"},
        starting_at=start,
    )
    RateTierFactory(rate=tiered, level=1, size=Decimal("1"), price=Decimal("100"))
    RateTierFactory(rate=tiered, level=2, size=None, price=Decimal("80"))
    customer = CustomerFactory(
        name="Acme AI, a customer with a rather long name for the invoice list"
    )
    IngestAliasFactory(customer=customer, alias="acme-prod")
    now = timezone.now()
    contract = ContractFactory(
        customer=customer,
        rate_card=card,
        name="Acme AI enterprise agreement 2026, standard rate card",
        starting_at=now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
    )
    contract_drafts_ensure(contract=contract, now=now)
    moment = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    usage_events_ingest(
        events=[
            {
                "transaction_id": f"acme-{model}",
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": moment,
                "properties": {"num_tokens": tokens, "model_name": model, "user_id": "alice"},
            }
            for model, tokens in (("model-A", "2000000"), ("model-C", "1500000"))
        ],
        now=now,
    )
    draft = Invoice.objects.get(
        contract=contract, status="DRAFT", start_timestamp__lte=now, end_timestamp__gt=now
    )
    return {"contract": contract, "product": product, "card": card, "draft": draft}


def test_money_is_typed_in_dollars(desktop, superuser):
    product = ProductFactory(name="Images", billable_metric=BillableMetricFactory(group_keys=[]))
    card = RateCardFactory(name="Images card")
    page = desktop
    login(page, superuser)

    page.goto(reverse("admin:catalog_ratecard_change", args=[card.pk]))
    page.get_by_text("Add another Rate", exact=True).click()
    rate = page.locator("#rates-0")
    field(rate, "Product").select_option(label="Images")
    expect(rate.locator(".money-symbol").first).to_have_text("$")
    rate.locator("#id_rates-0-starting_at_0").fill("2026-01-01")
    rate.locator("#id_rates-0-starting_at_1").fill("00:00:00")
    field(rate, "Price").fill("0.02")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.get_by_text("was changed successfully")).to_be_visible()
    assert Rate.objects.get(product=product).price == Decimal("2")  # two cents, not $0.0002
    expect(page.locator("table.price-book")).to_contain_text("$0.02")


def test_a_viewer_sees_everything_and_changes_nothing(desktop, staff, acme):
    page = desktop
    login(page, staff(FINANCE_VIEWER))

    page.goto(reverse("admin:invoicing_invoice_changelist"))
    expect(page.locator("table#result_list")).to_contain_text("$4.40")
    expect(page.get_by_label("Action")).to_have_count(0)  # no finalize, void or regenerate
    page.goto(reverse("admin:customers_contract_change", args=[acme["contract"].pk]))
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    sandbox = reverse(
        "admin:metering_send_test_event",
        kwargs={"contract_id": acme["contract"].pk, "product_id": acme["product"].pk},
    )
    answer = page.goto(sandbox)
    assert answer.status == 403
    answer = page.goto(reverse("admin:catalog_ratecard_add"))
    assert answer.status == 403


def test_a_chart_is_drawn_with_the_usage_and_spend(desktop, superuser, acme):
    page = desktop
    login(page, superuser)

    page.goto(reverse("admin:customers_contract_change", args=[acme["contract"].pk]))

    expect(page.locator("canvas[data-chart-drawn='true']")).to_have_count(2)
    drawn = page.evaluate(
        """() => Object.values(window.BillingCharts.charts).map((chart) => ({
            type: chart.config.type,
            sets: chart.data.datasets.map((set) => [
                set.label, set.data.reduce((sum, value) => sum + (value || 0), 0),
                set.data.filter((value) => value !== null).slice(-1)[0],
            ]),
        }))"""
    )
    by_type = {chart["type"]: chart["sets"] for chart in drawn}
    # Usage, stacked by model, in millions of tokens.
    assert sorted(label for label, _, _ in by_type["bar"]) == [
        "model_name=model-A",
        "model_name=model-C",
    ]
    assert {label: total for label, total, _ in by_type["bar"]} == {
        "model_name=model-A": 2,
        "model_name=model-C": 1.5,
    }
    # Spend so far: the last point of this period is the draft's total, $4.40.
    this_period = by_type["line"][0]
    assert this_period[0].startswith("This period")
    assert this_period[2] == 4.4
    # Drawn, not blank: some pixel of the bar chart is painted.
    painted = page.evaluate(
        """() => { const canvas = document.querySelectorAll("canvas[data-chart-drawn='true']")[1];
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { return true; } }
            return false; }"""
    )
    assert painted


def test_every_list_fits_a_1366_screen(desktop, superuser, acme):
    page = desktop
    login(page, superuser)
    lists = page.evaluate(
        """() => Array.from(document.querySelectorAll("#content-main a"))
            .map((a) => a.getAttribute("href"))
            .filter((href) => href && /\\/admin\\/[a-z_]+\\/[a-z]+\\/$/.test(href))"""
    )
    assert reverse("admin:invoicing_invoice_changelist") in lists
    assert len(lists) >= 15

    for url in sorted(set(lists)):
        page.goto(url)
        assert no_horizontal_scroll(page), f"{url} scrolls sideways at 1366 px"
    page.goto(reverse("admin:invoicing_invoice_changelist"))
    total = page.locator("th.column-total_display")
    assert right_edge(total) <= 1366
    expect(page.locator("td.field-total_display")).to_have_text("$4.40")


def test_the_invoice_and_contract_pages_on_a_phone(phone, superuser, acme):
    page = phone
    login(page, superuser)

    page.goto(reverse("admin:invoicing_invoice_change", args=[acme["draft"].pk]))
    assert no_horizontal_scroll(page)
    amounts = page.locator("table.invoice-lines td.line-amount")
    expect(amounts.first).to_be_visible()
    assert all(right_edge(amounts.nth(i)) <= 390 for i in range(amounts.count()))
    expect(page.locator("table.invoice-lines")).to_contain_text("$3.00")
    expect(page.locator(".field-total_display .readonly")).to_have_text("$4.40")

    page.goto(reverse("admin:customers_contract_change", args=[acme["contract"].pk]))
    assert no_horizontal_scroll(page)
    total = page.locator("table.contract-invoices td.invoice-total").first
    assert right_edge(total) <= 390
    expect(page.locator("canvas[data-chart-drawn='true']")).to_have_count(2)
