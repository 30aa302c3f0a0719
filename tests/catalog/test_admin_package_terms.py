"""A package's later contract terms (recurring commits and credits, threshold billing,
specifiers) in words on its read-only admin page, for a Finance viewer (view_package)."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from catalog.services import package_create
from roles.definitions import FINANCE_VIEWER
from tests.catalog.factories import ProductFactory, RateCardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    return client


def _package():
    commit = ProductFactory(fixed=True, name="Commitment")
    usage = ProductFactory(name="Calls")
    offset = {"unit": "DAYS", "value": 0}
    return package_create(
        name="Growth",
        rate_card=RateCardFactory(),
        terms={
            "commits": [
                {
                    "product_id": str(commit.pk),
                    "type": "PREPAID",
                    "name": "Calls commitment",
                    "specifiers": [{"product_id": str(usage.pk)}],
                    "access_schedule": {"schedule_items": []},
                }
            ],
            "recurring_commits": [
                {
                    "product_id": str(commit.pk),
                    "name": "Monthly commitment",
                    "priority": "2",
                    "access_amount": {"unit_price": "100000", "quantity": "1"},
                    "invoice_amount": {"unit_price": "90000", "quantity": "1"},
                    "commit_duration": {"value": "1"},
                    "starting_at_offset": offset,
                    "duration": {"unit": "YEARS", "value": 1},
                }
            ],
            "prepaid_balance_threshold_configuration": {
                "commit": {
                    "product_id": str(commit.pk),
                    "name": "Top-up",
                    "priority": "10",
                    "rate_type": "COMMIT_RATE",
                    "duration": {"unit": "MONTHS", "value": 3},
                },
                "is_enabled": True,
                "payment_gate_config": {"payment_gate_type": "NONE"},
                "threshold_amount": "2000",
                "recharge_to_amount": "2500",
            },
            "discounts": [
                {
                    "product_id": str(commit.pk),
                    "name": "Launch",
                    "schedule": {
                        "schedule_items": [
                            {
                                "date_offset": {"unit": "DAYS", "value": 2},
                                "unit_price": "500",
                                "quantity": "1",
                            }
                        ]
                    },
                }
            ],
            "professional_services": [
                {
                    "product_id": str(commit.pk),
                    "description": "Onboarding",
                    "unit_price": "15000",
                    "quantity": "4",
                    "max_amount": "60000",
                }
            ],
            "reseller_royalties": [
                {"reseller_type": "AWS", "fraction": "0.1", "starting_at_offset": offset}
            ],
        },
    )


def test_a_viewer_reads_the_later_terms_in_words(viewer_client):
    package = _package()

    page = viewer_client.get(reverse("admin:catalog_package_change", args=[package.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert (
        "Recurring commit &#x27;Monthly commitment&#x27;: $1,000.00 each billing period, lasting "
        "1 period(s), from the contract start for 1 year, invoiced $900.00; priority 2"
    ) in text
    assert (
        "Auto-recharge: below $20.00, buy back up to $25.00 as &#x27;Top-up&#x27; (priority 10, "
        "drawn at COMMIT_RATE, usable for 3 months)"
    ) in text
    assert "Commit &#x27;Calls commitment&#x27; is drawn only by usage matching 1 specifier(s)" in (
        text
    )
    assert "Discount &#x27;Launch&#x27;: $5.00 at 2 days after the contract start" in text
    assert "Professional service &#x27;Onboarding&#x27;: 4 x $150.00, at most $600.00" in text
    assert "AWS reseller royalty 10% from the contract start" in text


def test_a_package_without_later_terms_says_so(viewer_client):
    package = package_create(name="Basic", rate_card=RateCardFactory())

    page = viewer_client.get(reverse("admin:catalog_package_change", args=[package.pk]))

    assert "None: no recurring commits or credits, threshold billing, specifiers" in (
        page.content.decode()
    )


def test_someone_without_view_package_is_refused(client):
    package = package_create(name="Basic", rate_card=RateCardFactory())
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))

    page = client.get(reverse("admin:catalog_package_change", args=[package.pk]))

    assert page.status_code == 403
