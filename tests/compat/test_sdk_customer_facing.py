"""The customer-facing methods through the official SDK in strict mode: the invoice PDF, the
billing fields as custom fields, breakdowns, costs and embeddable dashboard URLs."""

import io
from datetime import UTC, datetime

import httpx
from pypdf import PdfReader

from invoicing.services import invoice_finalize
from tests.dashboards.world import company_profile, video_world


def test_retrieve_pdf_answers_the_invoice_document(client):
    company_profile()
    world = video_world()
    invoice = invoice_finalize(invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC))

    response = client.v1.customers.invoices.retrieve_pdf(
        customer_id=str(world.customer.pk), invoice_id=str(invoice.invoice.pk)
    )

    content = response.read()
    assert content.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "Invoice INV-1" in text
    assert "$496.60" in text


def test_billing_fields_are_custom_fields_over_the_api(client):
    created = client.v1.customers.create(
        name="Globex",
        custom_fields={"billing_name": "Globex Corporation", "region": "emea"},
    ).data
    assert created.custom_fields == {"region": "emea", "billing_name": "Globex Corporation"}

    client.v1.custom_fields.set_values(
        entity="customer",
        entity_id=created.id,
        custom_fields={"billing_email": "ap@globex.example", "billing_address": "1 Main St"},
    )
    client.v1.custom_fields.delete_values(
        entity="customer", entity_id=created.id, keys=["billing_name"]
    )

    fields = client.v1.customers.retrieve(customer_id=created.id).data.custom_fields
    assert fields == {
        "region": "emea",
        "billing_email": "ap@globex.example",
        "billing_address": "1 Main St",
    }


def test_list_breakdowns_by_day_in_strict_mode(client):
    world = video_world()

    page = client.v1.customers.invoices.list_breakdowns(
        customer_id=str(world.customer.pk),
        starting_on=datetime(2026, 12, 1, tzinfo=UTC),
        ending_before=datetime(2026, 12, 8, tzinfo=UTC),
        window_size="DAY",
    )

    days = {b.breakdown_start_timestamp.day: b for b in page.data}
    assert sorted(days) == [1, 2, 3, 4, 5, 6, 7]
    assert days[1].total == 49000  # the month's platform fee, less the $10.00 credit
    assert days[3].total == 540  # 7 minutes of 1080p over three tiers
    assert [(line.tier.level, line.quantity) for line in days[3].line_items if line.tier] == [
        (1, 2),
        (2, 3),
        (3, 2),
    ]
    assert days[4].total == 120
    assert page.next_page is None


def test_list_costs_in_strict_mode(client):
    world = video_world()

    page = client.v1.customers.list_costs(
        customer_id=str(world.customer.pk),
        starting_on=datetime(2026, 12, 3, tzinfo=UTC),
        ending_before=datetime(2026, 12, 5, tzinfo=UTC),
    )

    usd = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
    assert [day.credit_types[usd].cost for day in page.data] == [540, 120]
    assert page.data[0].credit_types[usd].name == "USD (cents)"
    assert [i.cost for i in page.data[0].credit_types[usd].line_item_breakdown] == [200, 240, 100]


def test_get_embeddable_url_in_strict_mode(client, live_server):
    world = video_world()

    response = client.v1.dashboards.get_embeddable_url(
        customer_id=str(world.customer.pk),
        dashboard="invoices",
        color_overrides=[{"name": "Primary_medium", "value": "#ff6600"}],
        dashboard_options=[{"key": "invoice_status_filter", "value": "FINALIZED_AND_DRAFT"}],
    )

    assert response.data.url.startswith(f"{live_server.url}/embed/")
    page = httpx.get(response.data.url)
    assert page.status_code == 200
    assert "--primary-medium: #ff6600" in page.text
    assert "December 1-31, 2026" in page.text
