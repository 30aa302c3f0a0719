"""Gated threshold purchases in the admin: shown on their contract's page and in their own list;
staff holding `customers.settle_paymentgate` (the Finance admin role) release or cancel an
EXTERNAL gate by hand; a Finance viewer cannot; a STRIPE gate is left to Stripe."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from customers.models import Commit, PaymentGate
from roles.definitions import FINANCE_ADMIN, FINANCE_VIEWER
from tests.customers.factories import PaymentGateFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:customers_paymentgate_changelist"


def _member(role: str) -> User:
    user = User.objects.create_user(role.replace(" ", "-"), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _act(client, action: str, gates):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [str(g.pk) for g in gates]},
        follow=True,
    )


def test_the_contract_page_shows_its_pending_gated_purchase(admin_client):
    gate = PaymentGateFactory()
    page = admin_client.get(reverse("admin:customers_contract_change", args=[gate.contract_id]))
    text = page.content.decode()
    assert "Gated threshold purchases" in text
    assert str(gate.pk) in text and "Pending payment" in text and "$100.00" in text


def test_finance_admin_releases_an_external_gate_by_hand(client):
    gate = PaymentGateFactory()
    client.force_login(_member(FINANCE_ADMIN))
    page = client.get(reverse(CHANGELIST))
    assert "Release selected external gates" in page.content.decode()
    response = _act(client, "release_selected", [gate])
    assert "Released 1 payment gate(s)." in response.content.decode()
    gate.refresh_from_db()
    assert (gate.status, gate.resolved_by) == ("PAID", "admin: Finance-admin")
    assert [s.amount for s in gate.commit.access_schedule.all()] == [Decimal("10000")]
    # Cancelling it now is a conflict, said on the page; nothing changes.
    response = _act(client, "cancel_selected", [gate])
    assert "was already paid" in response.content.decode()
    gate.refresh_from_db()
    assert gate.status == "PAID"


def test_finance_admin_cancels_an_external_gate(client):
    gate = PaymentGateFactory()
    client.force_login(_member(FINANCE_ADMIN))
    response = _act(client, "cancel_selected", [gate])
    assert "Cancelled 1 payment gate(s)." in response.content.decode()
    gate.refresh_from_db()
    assert (gate.status, gate.reason) == ("FAILED", "Cancelled by staff.")
    assert Commit.objects.get(pk=gate.commit_id).archived_at is not None


def test_a_stripe_gate_is_not_settled_by_hand(admin_client):
    gate = PaymentGateFactory(gate_type="STRIPE", payment_type="INVOICE")
    response = _act(admin_client, "release_selected", [gate])
    assert "Stripe reports its payment" in response.content.decode()
    gate.refresh_from_db()
    assert gate.status == "PENDING"


def test_a_finance_viewer_sees_gates_but_cannot_settle_them(client):
    gate = PaymentGateFactory()
    client.force_login(_member(FINANCE_VIEWER))
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "Release selected external gates" not in page.content.decode()
    _act(client, "release_selected", [gate])
    assert PaymentGate.objects.get(pk=gate.pk).status == "PENDING"


def test_the_contract_page_says_when_a_declined_threshold_charges_again(admin_client):
    failed_at = timezone.now().replace(second=0, microsecond=0)
    gate = PaymentGateFactory(
        gate_type="STRIPE",
        payment_type="PAYMENT_INTENT",
        status="FAILED",
        resolved_at=failed_at,
        threshold_kind="PREPAID_BALANCE",
    )
    page = admin_client.get(reverse("admin:customers_contract_change", args=[gate.contract_id]))
    retry = failed_at + timedelta(hours=1)
    assert (
        f"PREPAID_BALANCE: its Stripe payment failed; the threshold charges again after "
        f"{retry:%Y-%m-%d %H:%M} UTC." in page.content.decode()
    )
