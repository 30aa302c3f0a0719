"""The contract add form in a real browser (Playwright driving Debian's chromium): choosing the
customer in the autocomplete refills the billing provider configuration list with that
customer's active configurations, and the contract is saved with the one picked."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.utils import timezone

from customers.models import Contract
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import BillingProviderConfigurationFactory, CustomerFactory

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")


@pytest.fixture
def world(transactional_db):
    from tests.catalog.factories import usd_cents

    usd_cents()  # a transactional test flushes the seeded unit; put it back
    User.objects.create_superuser("finance", password="pw-finance-1")
    acme = CustomerFactory(name="Acme Robotics")
    BillingProviderConfigurationFactory(customer=acme, billing_provider_customer_id="cus_Acme1")
    BillingProviderConfigurationFactory(
        customer=acme, billing_provider_customer_id="cus_AcmeOld", archived_at=timezone.now()
    )
    globex = CustomerFactory(name="Globex Media")
    BillingProviderConfigurationFactory(customer=globex, billing_provider_customer_id="cus_Glob7")
    RateCardFactory(name="Standard 2026")
    return acme, globex


@pytest.fixture
def page(monkeypatch, live_server):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        yield page
        browser.close()
        # The test's ORM reads while Playwright ran used a connection of their own: close it, or
        # it outlives the test and keeps PostgreSQL from dropping the test database at the end.
        connections.close_all()


def _choose(page, field: str, text: str) -> None:
    """Pick `text` in the admin's autocomplete of the field labelled `field`. The click goes to
    select2's own box, which it waits for: the plain <select> is also a combobox until select2
    has replaced it, and a click aimed at it then lands on the box select2 put over it."""
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-container--open").get_by_role("searchbox").fill(text.split()[0])
    page.get_by_role("option", name=text).click()


def test_choosing_the_customer_offers_its_configurations_and_saves_the_one_picked(
    world, page, live_server
):
    expect = playwright.expect
    acme, _ = world
    page.goto(f"{live_server.url}/admin/login/?next=/admin/customers/contract/add/")
    page.get_by_label("Username").fill("finance")
    page.get_by_label("Password").fill("pw-finance-1")
    page.get_by_role("button", name="Log in").click()

    configurations = page.get_by_label("Billing provider configuration")
    expect(configurations.locator("option")).to_have_text(["---------"])
    _choose(page, "customer", "Globex Media")
    expect(configurations.locator("option")).to_have_text(["---------", "Stripe cus_Glob7"])
    _choose(page, "customer", "Acme Robotics")
    expect(configurations.locator("option")).to_have_text(["---------", "Stripe cus_Acme1"])

    configurations.select_option(label="Stripe cus_Acme1")
    _choose(page, "rate_card", "Standard 2026")
    date, time = page.locator(".fieldBox.field-starting_at").get_by_role("textbox").all()
    date.fill("2026-03-01")
    time.fill("00:00:00")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    contract = Contract.objects.get()
    assert contract.customer == acme
    assert contract.billing_provider_configuration.billing_provider_customer_id == "cus_Acme1"
    assert contract.billing_provider == "stripe"
