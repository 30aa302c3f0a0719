"""The quickstart walked by clicks in Chromium, as a finance person would, at 1366 px: a metric
(its example payload following the typing), a product, a rate card with dimensional and tiered
rates typed in dollars, a customer with an alias, a contract, test events from the sandbox, and
the draft invoice's total to the cent."""

from datetime import UTC, datetime
from decimal import Decimal

from playwright.sync_api import expect

from catalog.models import Rate, RateTier
from tests.browser.conftest import field, login


def _first_of_this_month() -> str:
    return f"{datetime.now(UTC).replace(day=1):%Y-%m-%d}"


def _add_metric(page) -> None:
    page.get_by_role("link", name="Billable metrics").first.click()
    page.get_by_role("link", name="Add billable metric").click()
    field(page, "Name").fill("Input Tokens")
    field(page, "Aggregation type").select_option(label="Sum")
    field(page, "Aggregation key").fill("num_tokens")
    field(page, "Event types (in)").fill("tokens_usage")
    field(page, "Property filters").fill("num_tokens exists")
    page.get_by_role("textbox", name="Group keys").fill("model_name, user_id")
    # "Review the event in the Example event payload box to validate your filters", before saving.
    example = page.locator("#example-event-payload")
    expect(example).to_contain_text('"event_type": "tokens_usage"')
    expect(example).to_contain_text('"model_name": "model_name-value"')
    expect(example).to_contain_text('"num_tokens": "100"')
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()


def _add_product(page) -> None:
    page.get_by_role("link", name="Products").first.click()
    page.get_by_role("link", name="Add product").click()
    field(page, "Name").fill("Input Tokens")
    field(page, "Type").select_option(label="Usage")
    field(page, "Billable metric").select_option(label="Input Tokens")
    # A subset of the metric's key set (model_name of model_name, user_id), as the quickstart says.
    field(page, "Pricing group key").fill("model_name")
    field(page, "Quantity conversion operation").select_option(label="Divide")
    field(page, "Quantity conversion factor").fill("1000000")
    field(page, "Quantity conversion name").fill("million tokens")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()


def _rate(page, index: int, *, rate_type: str, group_values: str, price: str = "") -> None:
    page.get_by_text("Add another Rate", exact=True).click()
    rate = page.locator(f"#rates-{index}")
    field(rate, "Product").select_option(label="Input Tokens")
    field(rate, "Rate type").select_option(label=rate_type)
    field(rate, "Pricing group values").fill(group_values)
    # The admin's date and time boxes carry no label of their own (a split widget).
    rate.locator(f"#id_rates-{index}-starting_at_0").fill("2024-01-01")
    rate.locator(f"#id_rates-{index}-starting_at_1").fill("00:00:00")
    if price:
        field(rate, "Price").fill(price)


def _add_rate_card(page) -> None:
    page.get_by_role("link", name="Rate cards").first.click()
    page.get_by_role("link", name="Add rate card").click()
    field(page, "Name").fill("Standard Rate Card")
    # Dimensional: $1.50 per million tokens of model-A, $0.30 of model-B (typed in dollars).
    _rate(page, 0, rate_type="Flat", group_values="model_name=model-A", price="1.50")
    _rate(page, 1, rate_type="Flat", group_values="model_name=model-B", price="0.30")
    # Tiered: the first million at $1.00, the rest at $0.80.
    _rate(page, 2, rate_type="Tiered", group_values="model_name=model-C")
    tiers = page.locator("#rates-2 .nested-rows")
    expect(tiers).to_be_visible()
    tiers.locator("input[name='rates-2-tiers-0-size']").fill("1")
    tiers.locator("input[name='rates-2-tiers-0-price']").fill("1.00")
    tiers.locator("input[name='rates-2-tiers-1-price']").fill("0.80")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    # The price book at the top of the card, in dollars.
    book = page.locator("table.price-book")
    expect(book).to_contain_text("model_name=model-A")
    expect(book).to_contain_text("$1.50")
    expect(book).to_contain_text("first 1 at $1.00, then $0.80")


def _add_customer_and_contract(page) -> None:
    page.get_by_role("link", name="Customers").nth(1).click()
    page.get_by_role("link", name="Add customer").click()
    field(page, "Name").fill("Acme AI")
    page.locator("input[name='ingest_aliases-0-alias']").fill("acme-prod")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    page.get_by_role("link", name="Add a contract").click()
    contract = page.locator("fieldset.module").first  # the contract's own fields, not its terms'
    field(contract, "Name").fill("Acme AI 2026")
    page.locator(".field-rate_card .select2-selection").click()
    page.locator(".select2-search__field").fill("Standard")
    page.get_by_role("option", name="Standard Rate Card").click()
    page.locator("#id_starting_at_0").fill(_first_of_this_month())
    page.locator("#id_starting_at_1").fill("00:00:00")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.get_by_text("was added successfully")).to_be_visible()


def _send_test_event(page, *, model: str, tokens: str, customer_id: str | None = None) -> None:
    page.locator("table.products").get_by_role("link", name="Send test event").click()
    if customer_id is not None:
        field(page, "Customer id").fill(customer_id)
    field(page, "properties.num_tokens").fill(tokens)
    field(page, "properties.model_name").fill(model)
    field(page, "properties.user_id").fill("alice")
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".messagelist")).to_contain_text("accepted for Acme AI")


def test_the_quickstart_by_clicks(desktop, superuser):
    page = desktop
    login(page, superuser)

    _add_metric(page)
    _add_product(page)
    _add_rate_card(page)
    _add_customer_and_contract(page)
    _send_test_event(page, model="model-A", tokens="2000000", customer_id="acme-prod")
    _send_test_event(page, model="model-C", tokens="1500000")

    # Typed in dollars, stored in cents.
    assert sorted(Rate.objects.exclude(price=None).values_list("price", flat=True)) == [
        Decimal("30"),
        Decimal("150"),
    ]
    assert list(RateTier.objects.order_by("level").values_list("price", flat=True)) == [
        Decimal("100"),
        Decimal("80"),
    ]
    # 2 million model-A at $1.50 = $3.00; 1.5 million model-C: $1.00 + 0.5 x $0.80 = $1.40.
    page.locator("table.contract-invoices").get_by_role("link", name="Open invoice").first.click()
    expect(page.locator(".field-total_display .readonly")).to_have_text("$4.40")
    lines = page.locator("table.invoice-lines")
    expect(lines).to_contain_text("$3.00")
    expect(lines).to_contain_text("$1.00")
    expect(lines).to_contain_text("$0.40")
