"""A payment gate's PRECALCULATED tax is a `tax` line of the gated purchase's own invoice: the
invoice API, the admin, the printable document and the PDF show it, the total includes it (the
subtotal does not), and Stripe is sent it once, as that line.

By hand (USD cents): an auto-recharge to 5000 gated by a Stripe invoice, with 150 of VAT: its
invoice has the commit purchase (5000) and VAT (150): subtotal 5000, total 5150, and Stripe's
invoice items are 5000 and 150."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from customers.models import Contract, PaymentGate
from invoicing.models import Invoice
from payments.revenue import revenue_schedule
from tests.api.conftest import data
from tests.dashboards.test_pdf import pdf, text_of
from tests.payments.test_payment_gates import world  # noqa: F401


def _taxed_contract(api_client, world, gate: dict) -> Contract:  # noqa: F811
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    response = api_client.post(
        "/v1/contracts/create",
        {
            "customer_id": str(world["customer"].pk),
            "rate_card_id": str(world["card"].pk),
            "starting_at": start.isoformat(),
            "prepaid_balance_threshold_configuration": {
                "commit": {"product_id": str(world["fixed"].pk), "name": "Top-up"},
                "is_enabled": True,
                "threshold_amount": 1000,
                "recharge_to_amount": 5000,
                "payment_gate_config": {
                    **gate,
                    "tax_type": "PRECALCULATED",
                    "precalculated_tax_config": {"tax_amount": 150, "tax_name": "VAT"},
                },
            },
        },
        format="json",
    )
    return Contract.objects.get(pk=data(response)["id"])


def _lines(invoice: Invoice) -> list[tuple]:
    return [(line.type, line.name, line.total) for line in invoice.line_items.order_by("position")]


def test_the_tax_is_a_line_of_the_purchase_invoice_and_stripe_gets_it_once(
    api_client,
    world,  # noqa: F811
    fake_stripe,
):
    contract = _taxed_contract(
        api_client,
        world,
        {"payment_gate_type": "STRIPE", "stripe_config": {"payment_type": "INVOICE"}},
    )
    gate = PaymentGate.objects.get(contract=contract)
    invoice = Invoice.objects.get(pk=gate.invoice_id)
    assert (invoice.status, invoice.subtotal, invoice.total) == (
        "FINALIZED",
        Decimal(5000),
        Decimal(5150),
    )
    assert _lines(invoice) == [
        ("commit_purchase", "Top-up", Decimal(5000)),
        ("tax", "VAT", Decimal(150)),
    ]
    # Sent to Stripe with the other lines: 5000 and 150, the tax once.
    assert sorted(i["amount"] for i in fake_stripe.items.values()) == [150, 5000]
    assert sorted(i["description"] for i in fake_stripe.items.values())[1] == "VAT"

    shown = data(api_client.get(f"/v1/customers/{contract.customer_id}/invoices/{invoice.pk}"))
    assert (shown["subtotal"], shown["total"]) == (5000, 5150)
    tax = [line for line in shown["line_items"] if line["type"] == "tax"]
    assert [(line["name"], line["total"]) for line in tax] == [("VAT", 150)]


def test_an_external_gate_has_the_tax_line_and_the_documents_show_it(
    api_client,
    admin_client,
    world,  # noqa: F811
):
    contract = _taxed_contract(api_client, world, {"payment_gate_type": "EXTERNAL"})
    invoice = Invoice.objects.get(pk=PaymentGate.objects.get(contract=contract).invoice_id)
    assert _lines(invoice) == [
        ("commit_purchase", "Top-up", Decimal(5000)),
        ("tax", "VAT", Decimal(150)),
    ]
    assert invoice.total == Decimal(5150)

    page = admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
    printable = admin_client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk]))
    assert page.status_code == printable.status_code == 200
    assert "VAT" in page.content.decode()
    body = printable.content.decode()
    assert "VAT" in body and "$1.50" in body and "$51.50" in body
    text = text_of(pdf(api_client, invoice).content)
    assert "VAT" in text and "$1.50" in text and "$51.50" in text


def test_the_revenue_schedule_keeps_the_tax_apart(api_client, world):  # noqa: F811
    contract = _taxed_contract(api_client, world, {"payment_gate_type": "EXTERNAL"})
    invoice = Invoice.objects.get(pk=PaymentGate.objects.get(contract=contract).invoice_id)
    day = invoice.start_timestamp.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        r
        for r in revenue_schedule(starting_at=day, ending_before=day + timedelta(days=1))
        if r.invoice_id == str(invoice.pk)
    ]
    assert sorted((r.category, r.amount) for r in rows) == [
        ("deferred_revenue", Decimal(5000)),
        ("tax", Decimal(150)),
    ]


def test_a_payment_intent_charges_the_purchase_and_its_tax_once(
    api_client,
    world,  # noqa: F811
    fake_stripe,
):
    _taxed_contract(
        api_client,
        world,
        {"payment_gate_type": "STRIPE", "stripe_config": {"payment_type": "PAYMENT_INTENT"}},
    )
    (intent,) = fake_stripe.payment_intents.values()
    assert intent["amount"] == 5150
