"""Terms edited in the admin move the drafts at once, as a v2 edit does: a scheduled charge added
inline on the contract page gets its SCHEDULED draft; a commit's invoice schedule edited on the
commit's page moves and reprices its SCHEDULED draft."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog import money
from customers.services import (
    CommitSpec,
    InvoiceItemSpec,
    SegmentSpec,
    contract_create,
)
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from tests.catalog.admin_posts import management, page_errors, split_datetime
from tests.customers.test_admin import contract_data
from tests.invoicing.factories import CustomerFactory, ProductFactory, RateFactory

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
NEXT_YEAR = datetime(2027, 1, 1, tzinfo=UTC)


def _scheduled_drafts(contract) -> list[datetime]:
    return list(
        Invoice.objects.filter(
            contract=contract, type=Invoice.Type.SCHEDULED, status=Invoice.Status.DRAFT
        )
        .order_by("start_timestamp")
        .values_list("start_timestamp", flat=True)
    )


def _contract(**terms):
    rate = RateFactory(price=Decimal("150"))
    return contract_create(
        customer=CustomerFactory(), rate_card=rate.rate_card, starting_at=JAN, now=JAN, **terms
    )


def test_a_scheduled_charge_added_on_the_contract_page_gets_its_scheduled_draft(admin_client):
    contract = _contract()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Onboarding")
    assert _scheduled_drafts(contract) == []
    data = contract_data(contract.customer, contract.rate_card)
    data.update(
        {
            **management("scheduled_charges", total=1),
            "scheduled_charges-0-product": str(fixed.pk),
            "scheduled_charges-0-name": "Onboarding",
            **management("scheduled_charges-0-schedule_items", total=1),
            **split_datetime("scheduled_charges-0-schedule_items-0-timestamp", MAR),
            "scheduled_charges-0-schedule_items-0-amount": "100",
            "scheduled_charges-0-schedule_items-0-unit_price": "",
            "scheduled_charges-0-schedule_items-0-quantity": "",
        }
    )

    response = admin_client.post(
        reverse("admin:customers_contract_change", args=[contract.pk]), data
    )

    assert response.status_code == 302, page_errors(response)
    assert _scheduled_drafts(contract) == [MAR]
    draft = Invoice.objects.get(contract=contract, type=Invoice.Type.SCHEDULED)
    assert invoice_view(invoice=draft, now=JAN).total == Decimal("10000")


def _commit_page_data(commit, segment, item, *, timestamp: datetime, amount: str) -> dict:
    return {
        "customer": str(commit.customer_id),
        "contract": str(commit.contract_id),
        "product": str(commit.product_id),
        "name": commit.name,
        "description": "",
        "priority": "1",
        "rate_type": "LIST_RATE",
        "applicable_product_tags": "",
        "credit_type": money.USD_CENTS_ID,
        "rollover_fraction": "",
        "type": "PREPAID",
        "invoice_contract": str(commit.invoice_contract_id or ""),
        **management("access_schedule", total=1, initial=1),
        "access_schedule-0-id": str(segment.pk),
        "access_schedule-0-commit": str(commit.pk),
        "access_schedule-0-amount": "30",
        **split_datetime("access_schedule-0-starting_at", JAN),
        **split_datetime("access_schedule-0-ending_before", NEXT_YEAR),
        **management("invoice_schedule", total=1, initial=1),
        "invoice_schedule-0-id": str(item.pk),
        "invoice_schedule-0-commit": str(commit.pk),
        **split_datetime("invoice_schedule-0-timestamp", timestamp),
        "invoice_schedule-0-amount": amount,
        "invoice_schedule-0-unit_price": "",
        "invoice_schedule-0-quantity": "",
    }


def test_a_commits_invoice_schedule_edited_on_its_page_moves_its_scheduled_draft(admin_client):
    product = ProductFactory(type="FIXED", billable_metric=None, name="Commitment")
    contract = _contract(
        commits=[
            CommitSpec(
                product=product,
                name="Prepaid commitment",
                priority=Decimal(1),
                access_schedule=[
                    SegmentSpec(amount=Decimal("3000"), starting_at=JAN, ending_before=NEXT_YEAR)
                ],
                invoice_schedule=[InvoiceItemSpec(timestamp=MAR, amount=Decimal("3000"))],
            )
        ]
    )
    commit = contract.commits.get()
    assert _scheduled_drafts(contract) == [MAR]
    url = reverse("admin:customers_commit_change", args=[commit.pk])
    page = admin_client.get(url)
    assert page.status_code == 200

    response = admin_client.post(
        url,
        _commit_page_data(
            commit,
            commit.access_schedule.get(),
            commit.invoice_schedule.get(),
            timestamp=APR,
            amount="25",
        ),
    )

    assert response.status_code == 302, page_errors(response)
    assert _scheduled_drafts(contract) == [APR]
    draft = Invoice.objects.get(contract=contract, type=Invoice.Type.SCHEDULED)
    assert invoice_view(invoice=draft, now=JAN).total == Decimal("2500")
