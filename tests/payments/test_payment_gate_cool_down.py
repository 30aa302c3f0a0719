"""A STRIPE-gated threshold whose card keeps being declined cools down between charges: an hour
after the first failure, doubling with each further failure in a row up to a day, and back to
none once a payment succeeds."""

from datetime import timedelta

import pytest

from customers.models import PaymentGate
from customers.services import payment_gate_retry_at
from customers.services.gates import payment_gate_cool_down
from invoicing.threshold_billing import contract_thresholds_check
from payments.services import invoice_payments_send_due
from tests.payments import test_payment_gates as gates

world = gates.world
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, timedelta(0)), (1, HOUR), (2, 2 * HOUR), (3, 4 * HOUR), (5, 16 * HOUR), (6, 24 * HOUR)],
)
def test_the_cool_down_doubles_with_each_failure_up_to_a_day(failures, wait):
    assert payment_gate_cool_down(failures) == wait


def _declined(contract) -> PaymentGate:
    """The contract's first gate: its PaymentIntent, made at once, was declined."""
    gate = PaymentGate.objects.get(contract=contract)
    assert gate.status == "FAILED"
    return gate


def test_a_declined_card_is_charged_again_only_after_the_cool_down(api_client, world, fake_stripe):
    fake_stripe.payment_intent_outcome = "card_declined"
    contract = gates._recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    t0 = _declined(contract).resolved_at
    assert payment_gate_retry_at(contract_id=contract.pk, kind="PREPAID_BALANCE") == t0 + HOUR

    # The 5-minute evaluation does not charge the declined card again within the hour.
    for minutes in (5, 30, 59):
        assert (
            contract_thresholds_check(contract=contract, now=t0 + timedelta(minutes=minutes)) == []
        )
    assert len(fake_stripe.payment_intents) == 1
    assert len(contract_thresholds_check(contract=contract, now=t0 + HOUR)) == 1
    invoice_payments_send_due(now=t0 + HOUR)  # an hour from the real now: charged by the schedule
    assert len(fake_stripe.payment_intents) == 2

    # Declined again (two in a row): two hours this time.
    second = PaymentGate.objects.filter(contract=contract, status="FAILED").order_by("-resolved_at")
    assert second.count() == 2
    t1 = second.first().resolved_at
    assert t1 == t0 + HOUR
    assert (
        contract_thresholds_check(contract=contract, now=t1 + 2 * HOUR - timedelta(minutes=5)) == []
    )
    assert len(contract_thresholds_check(contract=contract, now=t1 + 2 * HOUR)) == 1


def test_a_paid_gate_ends_the_cool_down(api_client, world, fake_stripe):
    fake_stripe.payment_intent_outcome = "card_declined"
    contract = gates._recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    t0 = _declined(contract).resolved_at
    fake_stripe.payment_intent_outcome = "succeeded"
    assert len(contract_thresholds_check(contract=contract, now=t0 + HOUR)) == 1
    invoice_payments_send_due(now=t0 + HOUR)
    assert PaymentGate.objects.filter(contract=contract, status="PAID").count() == 1
    assert payment_gate_retry_at(contract_id=contract.pk, kind="PREPAID_BALANCE") is None
