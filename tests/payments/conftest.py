from datetime import UTC, datetime
from decimal import Decimal

import pytest
import stripe

from customers.models import BillingProviderConfiguration
from invoicing.models import Invoice
from payments.models import BillingProviderConnection
from tests.invoicing.factories import ContractFactory, InvoiceFactory, InvoiceLineItemFactory

from .fake_stripe import FakeStripe, running

FINALIZED_AT = datetime(2026, 4, 2, tzinfo=UTC)
SECRET = "sk_test_51FakeKey0000abcd"
SIGNING = "whsec_fake_signing_secret"


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    """The fake Stripe on a local port, the library pointed at it, retries without long sleeps."""
    fake = FakeStripe()
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
    with running(fake) as url:
        settings.STRIPE_API_BASE = url
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        fake.timeout_sleep = 0.8
        yield fake


@pytest.fixture
def connection(db):
    return BillingProviderConnection.objects.create(
        secret_key=SECRET, webhook_secret=SIGNING, handoff_delay_minutes=60
    )


def stripe_config(customer, stripe_customer="cus_Acme123", method="send_invoice"):
    return BillingProviderConfiguration.objects.create(
        customer=customer,
        billing_provider="stripe",
        billing_provider_customer_id=stripe_customer,
        stripe_collection_method=method,
    )


def finalized_invoice(contract=None, *, number=101, totals=("1500", "0", "-250", "99")):
    """A FINALIZED usage invoice of March 2026 with lines of these totals (cents)."""
    if contract is None:
        contract = ContractFactory()
        config = stripe_config(contract.customer)
        contract.billing_provider_configuration = config
        contract.billing_provider = "stripe"
        contract.save()
    invoice = InvoiceFactory(
        contract=contract,
        status=Invoice.Status.FINALIZED,
        number=number,
        issued_at=FINALIZED_AT,
        total=sum(Decimal(t) for t in totals),
        subtotal=sum(Decimal(t) for t in totals if Decimal(t) > 0),
        net_payment_terms_days=15,
    )
    for position, total in enumerate(totals):
        InvoiceLineItemFactory(
            invoice=invoice,
            position=position,
            name=f"Line {position}",
            total=Decimal(total),
            type="applied_commit_or_credit" if Decimal(total) < 0 else "usage",
            applied_commit_or_credit_type="CREDIT" if Decimal(total) < 0 else "",
            pricing_group_values={"region": "eu"} if position == 0 else {},
            starting_at=datetime(2026, 3, 1, tzinfo=UTC),
            ending_before=datetime(2026, 4, 1, tzinfo=UTC),
        )
    return invoice


@pytest.fixture
def invoice(db):
    return finalized_invoice()
