"""A property where money could be lost or doubled: whatever outcomes are reported for a gated
threshold purchase, in whatever order and however often (Stripe's webhooks are at least once,
integrators retry), its amount counts in the balance exactly once after its release, never
before, and never after a cancellation; the first outcome reported decides."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import PaymentGate
from invoicing.payment_gates import PaymentGateConflict, payment_gate_settle
from invoicing.selectors import balances_now
from tests.customers.factories import PaymentGateFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cents=st.integers(min_value=1, max_value=10**9),
    reports=st.lists(st.sampled_from(["paid", "failed"]), max_size=6),
)
def test_a_gated_amount_counts_once_after_release_never_before(django_db_blocker, cents, reports):
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        gate = PaymentGateFactory(amount=Decimal(cents))
        commit = gate.commit

        def balance() -> Decimal:
            return balances_now(balances=[commit], now=NOW).get(commit.pk, Decimal(0))

        assert balance() == 0
        decided = None
        for outcome in reports:
            try:
                _, changed = payment_gate_settle(gate=gate, outcome=outcome, now=NOW, by="test")
            except PaymentGateConflict:
                assert decided is not None and decided != outcome
            else:
                assert changed == (decided is None)
                decided = decided or outcome
            status = PaymentGate.objects.get(pk=gate.pk).status
            assert status == {None: "PENDING", "paid": "PAID", "failed": "FAILED"}[decided]
            assert commit.access_schedule.count() == (1 if decided == "paid" else 0)
            assert balance() == (Decimal(cents) if decided == "paid" else 0)
        transaction.set_rollback(True)
