"""What a Finance viewer reads on a contract page: its terms' money in dollars and their numbers
as people write them (never a stored decimal with twelve places), schedules shown, not editable."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from roles.definitions import FINANCE_VIEWER
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CommitInvoiceItemFactory,
    ContractFactory,
    OverrideFactory,
)

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_viewer_reads_the_terms_as_people_write_them(client):
    contract = ContractFactory()
    commit = CommitFactory(contract=contract, priority=Decimal("2"))
    AccessSegmentFactory(commit=commit, amount=Decimal("10000"))
    OverrideFactory(contract=contract, priority=Decimal("1.5"))
    OverrideFactory(
        contract=contract,
        type="OVERWRITE",
        multiplier=None,
        overwrite_rate_type="FLAT",
        overwrite_price=Decimal("250"),
    )
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)

    html = client.get(reverse("admin:customers_contract_change", args=[contract.pk])).content
    text = _text(html.decode())

    assert re.search(r"\d\.0{6,}", text) is None, "a stored decimal is shown as stored"
    assert "Priority: 2 " in text and "Priority: 1.5 " in text
    assert "Multiplier: 0.9 " in text
    assert "Overwrite price: $2.50 " in text
    assert "Access schedule total: $100.00" in text
    assert "<fieldset disabled>" in html.decode() and 'value="100"' in html.decode()
    assert "Add a row" not in text


def test_a_commits_own_page_reads_money_and_the_admin_still_types_it(client, admin_client):
    commit = CommitFactory(priority=Decimal("2"), rollover_fraction=Decimal("0.5"))
    AccessSegmentFactory(commit=commit, amount=Decimal("10000"))
    CommitInvoiceItemFactory(commit=commit, amount=Decimal("5000"), unit_price=Decimal("2500"))
    url = reverse("admin:customers_commit_change", args=[commit.pk])
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)

    text = _text(client.get(url).content.decode())
    typed = admin_client.get(url).content.decode()

    assert re.search(r"\d\.0{6,}", text) is None, "a stored decimal is shown as stored"
    assert "Priority: 2 " in text and "Rollover fraction: 0.5 " in text
    assert "$100.00" in text and "$50.00" in text and "$25.00" in text
    assert 'name="priority"' in typed and "field-priority_display" not in typed
    assert 'name="access_schedule-0-amount"' in typed and 'value="100"' in typed
