"""The contract and customer pages show each commit and credit with its balance left now and its
ledger (segment starts, manual entries with their reason, invoice deductions with their invoice)."""

import re
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.services import CommitSpec, CreditSpec, SegmentSpec
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _hour(moment):
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def start():
    """Ten days ago, on the hour: the segments below are active now."""
    return _hour(timezone.now()) - timedelta(days=10)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _term_html(html: str) -> str:
    """The first commit or credit of the balances panel of a change page."""
    found = re.search(r'<div class="balance-term">.*?</table>\s*</div>', html, re.S)
    assert found, "no balances panel on the page"
    return found.group(0)


def _panel(html: str) -> str:
    return _text(_term_html(html))


def test_the_contract_page_shows_a_commit_balance_left_and_its_ledger(admin_client, start):
    customer = CustomerFactory(name="Acme AI")
    product = ProductFactory(name="Prepaid tokens", fixed=True)
    contract = services.contract_create(
        customer=customer,
        rate_card=RateCardFactory(),
        starting_at=start,
        now=timezone.now(),
        commits=[
            CommitSpec(
                product=product,
                name="Annual commit",
                access_schedule=[
                    SegmentSpec(
                        amount=Decimal("10000"),
                        starting_at=start,
                        ending_before=start + timedelta(days=60),
                    )
                ],
            )
        ],
    )
    commit = contract.commits.get()
    segment = commit.access_schedule.get()
    services.balance_manual_entry_add(
        balance_id=commit.pk,
        segment_id=segment.pk,
        amount=Decimal("-2500"),
        reason="Goodwill adjustment",
        customer=customer,
        now=timezone.now(),
        timestamp=start + timedelta(days=1),
    )

    response = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<strong class="balance-left">([^<]*)</strong>', html) == ["$75.00"]
    assert re.findall(r'<td class="number ledger-amount">([^<]*)</td>', html) == [
        "$100.00",
        "-$25.00",
    ]
    text = _panel(html)
    assert "Annual commit · Prepaid commit · Prepaid tokens · priority 0" in text
    assert f"{start:%Y-%m-%d %H:%M} UTC Prepaid commit segment start $100.00" in text
    day_two = start + timedelta(days=1)
    assert (
        f"{day_two:%Y-%m-%d %H:%M} UTC Prepaid commit manual entry -$25.00 Goodwill adjustment"
        in text
    )
    assert reverse("admin:customers_commit_change", args=[commit.pk]) in html


def test_an_expired_segment_leaves_nothing_but_keeps_its_ledger(admin_client, start):
    customer = CustomerFactory()
    contract = services.contract_create(
        customer=customer,
        rate_card=RateCardFactory(),
        starting_at=start,
        now=timezone.now(),
        credits=[
            CreditSpec(
                product=ProductFactory(fixed=True),
                name="Trial credit",
                access_schedule=[
                    SegmentSpec(
                        amount=Decimal("5000"),
                        starting_at=start,
                        ending_before=start + timedelta(days=2),
                    )
                ],
            )
        ],
    )

    html = admin_client.get(
        reverse("admin:customers_contract_change", args=[contract.pk])
    ).content.decode()

    assert re.findall(r'<strong class="balance-left">([^<]*)</strong>', html) == ["$0.00"]
    assert re.findall(r'<td class="number ledger-amount">([^<]*)</td>', html) == ["$50.00"]
    assert "Trial credit · Credit ·" in _panel(html)


def test_a_contract_without_commits_or_credits_says_so(admin_client, start):
    contract = services.contract_create(
        customer=CustomerFactory(), rate_card=RateCardFactory(), starting_at=start, now=start
    )

    html = admin_client.get(
        reverse("admin:customers_contract_change", args=[contract.pk])
    ).content.decode()

    assert "This contract has no commits or credits." in html


def test_the_customer_page_shows_customer_level_credits_with_their_ledger(admin_client, start):
    customer = CustomerFactory()
    credit = services.customer_credit_create(
        customer=customer,
        spec=CreditSpec(
            product=ProductFactory(name="Promo", fixed=True),
            name="Launch credit",
            access_schedule=[
                SegmentSpec(
                    amount=Decimal("5000"),
                    starting_at=start,
                    ending_before=start + timedelta(days=30),
                )
            ],
        ),
        now=timezone.now(),
    )
    services.balance_manual_entry_add(
        balance_id=credit.pk,
        segment_id=credit.access_schedule.get().pk,
        amount=Decimal("1250"),
        reason="Top-up",
        customer=customer,
        now=timezone.now(),
    )

    html = admin_client.get(
        reverse("admin:customers_customer_change", args=[customer.pk])
    ).content.decode()

    assert re.findall(r'<strong class="balance-left">([^<]*)</strong>', html) == ["$62.50"]
    assert re.findall(r'<td class="number ledger-amount">([^<]*)</td>', html) == [
        "$50.00",
        "$12.50",
    ]
    text = _panel(html)
    assert "Launch credit · Credit · Promo · priority 0" in text
    assert "Credit manual entry $12.50 Top-up" in text


def test_an_invoice_deduction_links_to_its_invoice(admin_client, start):
    from invoicing.models import Invoice

    customer = CustomerFactory()
    contract = services.contract_create(
        customer=customer,
        rate_card=RateCardFactory(),
        starting_at=start,
        now=timezone.now(),
        commits=[
            CommitSpec(
                product=ProductFactory(fixed=True),
                access_schedule=[
                    SegmentSpec(
                        amount=Decimal("10000"),
                        starting_at=start,
                        ending_before=start + timedelta(days=60),
                    )
                ],
            )
        ],
    )
    commit = contract.commits.get()
    invoice = Invoice.objects.filter(contract=contract).first()
    assert invoice is not None
    services.balance_ledger_record_draws(
        invoice_id=invoice.pk,
        draws=[
            {
                "balance_id": commit.pk,
                "balance_type": "PREPAID",
                "segment_id": commit.access_schedule.get().pk,
                "drawn": Decimal("3000"),
                "remaining": Decimal("7000"),
                "expires": False,
            }
        ],
        now=timezone.now(),
        timestamp=start + timedelta(days=2),
    )

    html = admin_client.get(
        reverse("admin:customers_contract_change", args=[contract.pk])
    ).content.decode()

    assert re.findall(r'<strong class="balance-left">([^<]*)</strong>', html) == ["$70.00"]
    invoice_url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    assert "Prepaid commit invoice deduction -$30.00 Open invoice" in _panel(html)
    assert f'<a href="{invoice_url}">Open invoice</a>' in _term_html(html)
