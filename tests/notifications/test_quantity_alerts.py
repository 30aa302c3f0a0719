"""Balance alerts with QUANTITY balances (prepaid units of usage products): a money alert (SPEND,
the default) sums only the SPEND balances of its pricing unit, never units; an alert with
`access_type: QUANTITY` sums the units QUANTITY balances hold (Metronome's null credit type, no
pricing unit). Usage is 2 cents a token (the `world`); values checked by hand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.models import QUANTITY_CREDIT_TYPE_ID, Commit, Credit
from notifications.models import Alert, CustomerAlert

from .conftest import USD, balance

pytestmark = pytest.mark.django_db


def quantity_balance(world, kind: str, *, priority, units, name):
    """A customer-level QUANTITY commit or credit of `units` tokens for `world`'s customer."""
    body = {
        "customer_id": world["customer"],
        "product_id": world["fixed"],
        "name": name,
        "priority": priority,
        "applicable_contract_ids": [world["contract"]],
        "applicable_product_ids": [world["product"]],
        "access_schedule": {
            "access_type": "QUANTITY",
            "schedule_items": [
                {
                    "amount": units,
                    "starting_at": world["start"].isoformat(),
                    "ending_before": (world["start"] + timedelta(days=400)).isoformat(),
                }
            ],
        },
    }
    if kind == "credit":
        world["post"]("/v1/contracts/customerCredits/create", body)
        return Credit.objects.get(customer_id=world["customer"], name=name)
    world["post"]("/v1/contracts/customerCommits/create", {**body, "type": "PREPAID"})
    return Commit.objects.get(customer_id=world["customer"], name=name)


def _alerts(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]


def _alert(world, **body) -> str:
    return world["post"](
        "/v1/alerts/create", {"name": "Watch", "customer_id": world["customer"], **body}
    )["id"]


def _state(alert_id) -> tuple:
    state = CustomerAlert.objects.get(alert_id=alert_id)
    return state.status, state.value


def test_money_and_unit_alerts_each_sum_their_own_balances(world, endpoint, receiver):
    """300 units (priority 1) and 100 cents (priority 2). 250 tokens: 250 units covered, 50
    left. 100 more: 50 units covered, the other 50 tokens (100 cents) paid by the SPEND commit."""
    quantity_balance(world, "commit", priority=1, units=300, name="Units")
    balance(world, "commit", priority=2, amount=100, name="Money")
    money = _alert(
        world,
        alert_type="low_remaining_commit_balance_reached",
        threshold=50,
        credit_type_id=USD,
    )
    units = _alert(
        world,
        alert_type="low_remaining_commit_balance_reached",
        threshold=100,
        access_type="QUANTITY",
    )
    # Not 400 (units added to cents) and not 100 units plus money: each its own sum.
    assert _state(money) == ("ok", Decimal("100"))
    assert _state(units) == ("ok", Decimal("300"))

    world["ingest"](250)
    assert _state(money) == ("ok", Decimal("100"))
    assert _state(units) == ("in_alarm", Decimal("50"))
    [fired] = _alerts(receiver)
    assert fired["properties"]["alert_id"] == units
    assert fired["properties"]["remaining_balance"] == 50
    assert fired["properties"]["credit_type_id"] == QUANTITY_CREDIT_TYPE_ID
    assert fired["properties"]["triggered_by"] == "The commits have 50 units left."
    assert CustomerAlert.objects.get(alert_id=units).alarmed == [
        f"commits:{QUANTITY_CREDIT_TYPE_ID}"
    ]

    world["ingest"](100)
    assert _state(money) == ("in_alarm", Decimal("0"))
    assert _state(units) == ("in_alarm", Decimal("0"))
    second = _alerts(receiver)[1]
    assert (second["properties"]["alert_id"], second["properties"]["credit_type_id"]) == (
        money,
        USD,
    )
    assert second["properties"]["triggered_by"] == "The commits have 0 left."


def test_a_quantity_percentage_is_units_left_over_units_held(world, endpoint, receiver):
    """Credits of 200 and 300 units and a SPEND credit of 1,000 cents. 400 tokens: 100 of 500
    units left, 20%; the SPEND credit keeps 100% and its alert stays quiet."""
    quantity_balance(world, "credit", priority=1, units=200, name="A")
    quantity_balance(world, "credit", priority=2, units=300, name="B")
    balance(world, "credit", priority=3, amount=1000, name="Money")
    units = _alert(
        world,
        alert_type="low_remaining_contract_credit_percentage_reached",
        threshold=25,
        access_type="QUANTITY",
    )
    money = _alert(
        world,
        alert_type="low_remaining_contract_credit_percentage_reached",
        threshold=25,
        access_type="SPEND",
    )
    world["ingest"](400)
    assert _state(units) == ("in_alarm", Decimal("20"))
    assert _state(money) == ("ok", Decimal("100"))
    [fired] = _alerts(receiver)
    assert fired["properties"]["remaining_percentage"] == 20
    assert fired["properties"]["remaining_balance"] == 100
    assert fired["properties"]["triggered_by"] == "The credits have 100 units left (20.00%)."


def test_a_combined_quantity_alert_sums_the_units_of_commits_and_credits(world, endpoint, receiver):
    quantity_balance(world, "credit", priority=1, units=40, name="Credit units")
    quantity_balance(world, "commit", priority=2, units=60, name="Commit units")
    balance(world, "commit", priority=3, amount=5000, name="Money")
    both = _alert(
        world,
        alert_type="low_remaining_contract_credit_and_commit_balance_reached",
        threshold=30,
        access_type="QUANTITY",
    )
    assert _state(both) == ("ok", Decimal("100"))
    world["ingest"](75)  # 40 units of the credit, 35 of the commit: 25 left
    assert _state(both) == ("in_alarm", Decimal("25"))


def test_a_quantity_alert_shows_its_access_type_and_no_pricing_unit(world, api_client):
    units = _alert(
        world,
        alert_type="low_remaining_commit_balance_reached",
        threshold=5,
        access_type="QUANTITY",
    )
    money = _alert(world, alert_type="low_remaining_commit_balance_reached", threshold=5)
    spend = _alert(world, alert_type="spend_threshold_reached", threshold=5)
    listed = {
        row["alert"]["id"]: row["alert"]
        for row in world["post"]("/v1/customer-alerts/list", {"customer_id": world["customer"]})
    }
    assert listed[units]["access_type"] == "QUANTITY" and "credit_type" not in listed[units]
    assert listed[money]["access_type"] == "SPEND"
    assert listed[money]["credit_type"]["id"] == USD
    assert "access_type" not in listed[spend]
    assert Alert.objects.get(pk=units).access_type == "QUANTITY"


def test_a_days_left_alert_refuses_quantity_in_the_model_too():
    alert = Alert(
        name="Days", type=Alert.Type.COMMIT_SEGMENT_DAYS, threshold=3, access_type="QUANTITY"
    )
    with pytest.raises(ValidationError) as refused:
        alert.full_clean()
    assert refused.value.message_dict["access_type"] == [
        "QUANTITY is for the balance and percentage alerts (units left); this alert does not "
        "sum balances."
    ]


def test_a_grouped_quantity_alert_sums_each_teams_units_apart_from_its_money(world, empty):
    """Team a: 100 units and 5,000 cents; team b: 50 units. A combined QUANTITY alert grouping
    by team (at most 60): b's 50 units are in alarm, a's 100 are not (its money never counts)."""
    empty(
        "/v1/customFields/addKey", {"entity": "commit", "key": "team", "enforce_uniqueness": False}
    )
    terms = {
        "a units": quantity_balance(world, "commit", priority=1, units=100, name="A units"),
        "b units": quantity_balance(world, "commit", priority=2, units=50, name="B units"),
        "a money": balance(world, "commit", priority=3, amount=5000, name="A money"),
    }
    for name, team in (("a units", "a"), ("b units", "b"), ("a money", "a")):
        empty(
            "/v1/customFields/setValues",
            {"entity": "commit", "entity_id": str(terms[name].pk), "custom_fields": {"team": team}},
        )
    alert = _alert(
        world,
        alert_type="low_remaining_contract_credit_and_commit_balance_reached",
        threshold=60,
        access_type="QUANTITY",
        alert_specifiers=[
            {"custom_field_filters": [{"entity": "ContractCreditOrCommit", "key": "team"}]}
        ],
    )
    state = CustomerAlert.objects.get(alert_id=alert)
    assert (state.status, state.alarmed) == (
        "in_alarm",
        [f"balances:{QUANTITY_CREDIT_TYPE_ID}|ContractCreditOrCommit.team=b"],
    )
    assert state.triggered_by == (
        "The commits and credits (ContractCreditOrCommit team = b) have 50 units left."
    )
