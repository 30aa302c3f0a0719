"""A commit added by a v2 edit with a STRIPE payment_gate_config is charged at once through the
fake Stripe, like a gated threshold purchase, and holds its balance only once paid."""

from decimal import Decimal

from django.utils import timezone

from customers.models import Commit, PaymentGate
from tests.api.conftest import data
from tests.payments import test_payment_gates as gates

world = gates.world


def _edit(api_client, contract, world, gate: dict):
    start = contract.starting_at
    return api_client.post(
        "/v2/contracts/edit",
        {
            "contract_id": str(contract.pk),
            "customer_id": str(world["customer"].pk),
            "add_commits": [
                {
                    "product_id": str(world["fixed"].pk),
                    "name": "Gated prepay",
                    "type": "PREPAID",
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": 3000,
                                "starting_at": start.isoformat(),
                                "ending_before": (start.replace(year=start.year + 1)).isoformat(),
                            }
                        ]
                    },
                    "invoice_schedule": {
                        "schedule_items": [
                            {"timestamp": timezone.now().isoformat(), "amount": 3000}
                        ]
                    },
                    "payment_gate_config": gate,
                }
            ],
        },
        format="json",
    )


def test_a_stripe_gated_commit_added_by_hand_is_charged_and_released(
    api_client, world, fake_stripe
):
    contract = gates._recharge_contract(api_client, world, {"payment_type": "PAYMENT_INTENT"})
    response = _edit(
        api_client,
        contract,
        world,
        {"payment_gate_type": "STRIPE", "stripe_config": {"payment_type": "PAYMENT_INTENT"}},
    )
    data(response)
    commit = Commit.objects.get(name="Gated prepay")
    gate = PaymentGate.objects.get(commit=commit)
    assert gate.threshold_kind == "MANUAL"
    charged = [i["amount"] for i in fake_stripe.payment_intents.values()]
    assert charged == [5000, 3000]  # the recharge, then this commit
    gate.refresh_from_db()
    assert gate.status == "PAID"
    assert [s.amount for s in commit.access_schedule.all()] == [Decimal("3000")]
