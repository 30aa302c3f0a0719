"""The admin shows a commit's or credit's access type, and a QUANTITY balance's amounts in units
(its schedule, total, balance left and ledger), never as money."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from roles.definitions import FINANCE_VIEWER
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    ContractFactory,
    CreditFactory,
)

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(user)
    return client


@pytest.fixture
def credit():
    contract = ContractFactory()
    credit = CreditFactory(contract=contract, access_type="QUANTITY", name="Prepaid calls")
    AccessSegmentFactory(credit=credit, commit=None, amount=Decimal("1000"))
    return credit


def test_a_viewer_reads_a_quantity_credit_in_units(viewer, credit):
    text = _text(
        viewer.get(reverse("admin:customers_credit_change", args=[credit.pk])).content.decode()
    )
    assert "Access type: Quantity (units)" in text
    assert "1,000 units" in text
    assert "$10.00" not in text


def test_the_contract_page_shows_the_access_type_and_units_left(viewer, credit):
    url = reverse("admin:customers_contract_change", args=[credit.contract_id])
    text = _text(viewer.get(url).content.decode())
    assert "Access type: Quantity (units)" in text
    assert "Access schedule total: 1,000 units" in text
    assert "1,000 units" in text and "$10.00" not in text


def test_the_balance_lists_filter_by_access_type(viewer, credit):
    spend = CommitFactory(name="Spend commit")
    AccessSegmentFactory(commit=spend, amount=Decimal("500"))
    url = reverse("admin:customers_credit_changelist")
    listed = _text(viewer.get(url, {"access_type__exact": "QUANTITY"}).content.decode())
    assert "Prepaid calls" in listed and "Quantity (units)" in listed
    commits = reverse("admin:customers_commit_changelist")
    assert "Spend commit" not in _text(
        viewer.get(commits, {"access_type__exact": "QUANTITY"}).content.decode()
    )
    assert "Spend commit" in _text(
        viewer.get(commits, {"access_type__exact": "SPEND"}).content.decode()
    )


def test_the_admin_types_a_quantity_segment_in_units(admin_client, credit):
    html = admin_client.get(
        reverse("admin:customers_credit_change", args=[credit.pk])
    ).content.decode()
    assert 'name="access_schedule-0-amount"' in html and 'value="1000"' in html


def test_staff_without_the_view_permission_are_refused(client, credit):
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    url = reverse("admin:customers_credit_change", args=[credit.pk])
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:customers_credit_changelist")).status_code == 403
