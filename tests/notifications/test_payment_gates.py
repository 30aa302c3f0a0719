"""The payment_gate.* events of a gated threshold purchase become signed webhooks in Metronome's
shape: threshold reached and external initiate (with the workflow id, contract, amount and
invoice), then the payment status when the integrator reports it."""

from datetime import timedelta
from decimal import Decimal

import pytest

from customers.models import PaymentGate
from invoicing.threshold_billing import thresholds_check_all
from tests.api.test_threshold_billing import _contract, _now
from tests.api.test_threshold_billing import world as priced  # noqa: F401
from tests.invoicing.factories import ingest


@pytest.fixture
def post(api_client):
    def _post(path: str, body=None):
        return api_client.post(path, body or {}, format="json")

    return _post


def test_external_gate_webhooks_are_signed_and_delivered(post, priced, endpoint, receiver):  # noqa: F811
    contract_id = _contract(
        post,
        priced,
        spend_threshold_configuration={
            "commit": {"product_id": str(priced["fixed"].pk), "name": "Spend"},
            "is_enabled": True,
            "threshold_amount": 1000,
            "payment_gate_config": {
                "payment_gate_type": "EXTERNAL",
                "tax_type": "PRECALCULATED",
                "precalculated_tax_config": {"tax_amount": 150, "tax_name": "VAT"},
            },
        },
    )
    now = _now()
    ingest(
        [
            {
                "transaction_id": "t1",
                "customer_id": str(priced["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": (now - timedelta(minutes=5)).isoformat(),
                "properties": {"num_tokens": "600"},
            }
        ],
        now=now,
    )
    receiver.received.clear()
    assert thresholds_check_all(now=now) == 1
    gate = PaymentGate.objects.get()
    bodies = [receiver.verify(endpoint.raw_secret, r) for r in receiver.received]
    gated = [b for b in bodies if b["type"].startswith("payment_gate.")]
    properties = {
        "workflow_id": str(gate.pk),
        "customer_id": str(priced["customer"].pk),
        "contract_id": contract_id,
        "commit_id": str(gate.commit_id),
        "invoice_id": str(gate.invoice_id),
        # What the integrator charges: the invoice, the PRECALCULATED tax line included.
        "amount": 1150,
        "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "commit_amount": 1000,
        "commit_credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "payment_gate_type": "EXTERNAL",
        "payment_type": None,
        "threshold_kind": "SPEND",
        "tax_amount": 150,
        "tax_name": "VAT",
    }
    assert [(b["type"], b["properties"]) for b in gated] == [
        ("payment_gate.threshold_reached", properties),
        ("payment_gate.external_initiate", properties),
    ]
    receiver.received.clear()
    response = post(
        "/v1/contracts/commits/threshold-billing/release",
        {"workflow_id": str(gate.pk), "outcome": "paid"},
    )
    assert response.status_code == 200
    bodies = [receiver.verify(endpoint.raw_secret, r) for r in receiver.received]
    (status,) = [b for b in bodies if b["type"] == "payment_gate.payment_status"]
    assert status["properties"] == {**properties, "payment_status": "paid"}


def test_a_gate_webhook_carries_what_is_charged_after_discount_cap_and_tax(
    post,
    priced,  # noqa: F811
    endpoint,
    receiver,
):
    """By hand: 600 tokens owe 1000 (the threshold), so a commit of 1000 is bought. Half price
    up to a cap of 600 bought at the discount in the period (the tracker is empty): 600 x 0.5
    = 300, the other 400 at full price = 400; with the PRECALCULATED tax of 150 the invoice is
    850. The commit's face value stays 1000."""
    contract_id = _contract(
        post,
        priced,
        spend_trackers=[
            {
                "alias": "promo",
                "applicable_spend_specifiers": [
                    {
                        "sources": ["THRESHOLD_RECHARGE"],
                        "spend_type": "COMMIT_PURCHASE",
                        "discounted": "DISCOUNTED_ONLY",
                    }
                ],
                "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
                "reset_frequency": "BILLING_PERIOD",
            }
        ],
        spend_threshold_configuration={
            "commit": {"product_id": str(priced["fixed"].pk), "name": "Spend"},
            "is_enabled": True,
            "threshold_amount": 1000,
            "discount_configuration": {
                "payment_fraction": 0.5,
                "cap": {"amount": 600, "spend_tracker_alias": "promo"},
            },
            "payment_gate_config": {
                "payment_gate_type": "EXTERNAL",
                "tax_type": "PRECALCULATED",
                "precalculated_tax_config": {"tax_amount": 150, "tax_name": "VAT"},
            },
        },
    )
    now = _now()
    ingest(
        [
            {
                "transaction_id": "t1",
                "customer_id": str(priced["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": (now - timedelta(minutes=5)).isoformat(),
                "properties": {"num_tokens": "600"},
            }
        ],
        now=now,
    )
    receiver.received.clear()
    assert thresholds_check_all(now=now) == 1
    gate = PaymentGate.objects.get()
    assert (gate.amount, gate.charged_amount) == (Decimal("1000"), Decimal("850"))
    bodies = [receiver.verify(endpoint.raw_secret, r) for r in receiver.received]
    (reached,) = [b for b in bodies if b["type"] == "payment_gate.threshold_reached"]
    assert reached["properties"] | {"workflow_id": None, "commit_id": None, "invoice_id": None} == {
        "workflow_id": None,
        "customer_id": str(priced["customer"].pk),
        "contract_id": contract_id,
        "commit_id": None,
        "invoice_id": None,
        "amount": 850,
        "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "commit_amount": 1000,
        "commit_credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "payment_gate_type": "EXTERNAL",
        "payment_type": None,
        "threshold_kind": "SPEND",
        "tax_amount": 150,
        "tax_name": "VAT",
    }
