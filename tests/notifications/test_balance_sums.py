"""Low balance alerts measure as Metronome does: the SUM of what every matching commit or credit
holds (a percentage: that sum over their active amounts), one crossing per customer; the
days-left alerts stay per segment. Usage is 2 cents a token (the `world`)."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import CustomerAlert
from notifications.services import customer_alerts_evaluate
from tests.customers.factories import CustomerFactory

from .conftest import USD, balance, top_up
from .factories import AlertFactory

pytestmark = pytest.mark.django_db


def _alerts(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]


def _alert(world, **body) -> str:
    body = {"name": "Watch", "customer_id": world["customer"], "credit_type_id": USD, **body}
    return world["post"]("/v1/alerts/create", body)["id"]


def _state(alert_id) -> CustomerAlert:
    return CustomerAlert.objects.get(alert_id=alert_id)


def test_two_commits_are_summed_against_the_threshold_fire_once_and_rearm_after_a_top_up(
    world, endpoint, receiver
):
    first = balance(world, "commit", priority=1, amount=60, name="First")
    balance(world, "commit", priority=2, amount=50, name="Second")
    alert = _alert(world, alert_type="low_remaining_commit_balance_reached", threshold=100)
    state = _state(alert)
    assert (state.status, state.value) == ("ok", Decimal("110"))  # 60 + 50: above 100
    assert _alerts(receiver) == []

    world["ingest"](10)  # 20 cents from First: 40 + 50 = 90
    [fired] = _alerts(receiver)
    assert fired["type"] == "alerts.low_remaining_commit_balance_reached"
    assert fired["properties"]["remaining_balance"] == 90
    assert fired["properties"]["credit_type_id"] == USD
    assert fired["properties"]["triggered_by"] == "The commits have 90 left."
    state = _state(alert)
    assert (state.status, state.value) == ("in_alarm", Decimal("90"))
    assert state.alarmed == [f"commits:{USD}"]

    world["ingest"](5)  # 10 more: 80, still in alarm, nothing fires again
    assert len(_alerts(receiver)) == 1
    assert _state(alert).value == Decimal("80")

    top_up(world, first, 50)  # 130: resolved, re-armed
    resolved = _alerts(receiver)[1]
    assert resolved["type"] == "alerts.low_remaining_commit_balance_resolved"
    assert resolved["properties"]["remaining_balance"] == 130
    assert (_state(alert).status, _state(alert).alarmed) == ("ok", [])

    world["ingest"](20)  # 40 more: 90 again, fires again
    again = _alerts(receiver)[2]
    assert again["type"] == "alerts.low_remaining_commit_balance_reached"
    assert again["properties"]["remaining_balance"] == 90


def test_a_commit_alert_ignores_credits_and_a_credit_alert_ignores_commits(
    world, endpoint, receiver
):
    balance(world, "credit", priority=1, amount=70, name="Free")  # drawn first (a credit)
    balance(world, "commit", priority=2, amount=80, name="Paid")
    commits = _alert(world, alert_type="low_remaining_commit_balance_reached", threshold=50)
    credits = _alert(
        world, alert_type="low_remaining_contract_credit_balance_reached", threshold=50
    )
    both = _alert(
        world,
        alert_type="low_remaining_contract_credit_and_commit_balance_reached",
        threshold=100,
    )
    world["ingest"](30)  # 60 cents from the credit: credit 10, commit 80, together 90
    assert [(_state(a).status, _state(a).value) for a in (commits, credits, both)] == [
        ("ok", Decimal("80")),
        ("in_alarm", Decimal("10")),
        ("in_alarm", Decimal("90")),
    ]
    fired = {f["properties"]["alert_id"]: f["properties"] for f in _alerts(receiver)}
    assert set(fired) == {credits, both}
    assert fired[both]["triggered_by"] == "The commits and credits have 90 left."


def test_a_percentage_is_the_sum_left_over_the_sum_of_the_active_amounts(world, endpoint, receiver):
    balance(world, "credit", priority=1, amount=60, name="A")
    balance(world, "credit", priority=2, amount=40, name="B")
    alert = _alert(
        world, alert_type="low_remaining_contract_credit_percentage_reached", threshold=50
    )
    world["ingest"](20)  # 40 of 100 drawn: 60 left, 60%
    assert (_state(alert).status, _state(alert).value) == ("ok", Decimal("60"))
    world["ingest"](10)  # 20 more: 40 left of 100, 40%
    [fired] = _alerts(receiver)
    assert fired["type"] == "alerts.low_remaining_contract_credit_percentage_reached"
    assert fired["properties"]["remaining_percentage"] == 40
    assert fired["properties"]["remaining_balance"] == 40


def test_the_days_left_alerts_stay_per_segment(world, endpoint, receiver):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    soon = balance(
        world, "commit", priority=1, amount=10, name="Soon", ending=hour + timedelta(days=3)
    )
    balance(world, "commit", priority=2, amount=10, name="Later", ending=hour + timedelta(days=30))
    alert = _alert(world, alert_type="low_remaining_days_for_commit_segment_reached", threshold=7)
    [fired] = _alerts(receiver)
    assert fired["properties"]["commit_id"] == str(soon.pk)
    assert fired["properties"]["remaining_days"] in (2, 3)
    assert _state(alert).alarmed == [str(soon.access_schedule.get().pk)]


def _evaluation_queries(world) -> int:
    with CaptureQueriesContext(connection) as queries:
        customer_alerts_evaluate(customer_id=world["customer"], now=timezone.now(), pending=False)
    return len(queries.captured_queries)


def test_the_evaluation_reads_no_more_for_more_customer_level_balances(world):
    balance(world, "commit", priority=1, amount=100, name="C0")
    _alert(world, alert_type="low_remaining_commit_balance_reached", threshold=1)
    one = _evaluation_queries(world)
    for index in range(1, 6):
        balance(world, "commit", priority=index + 1, amount=100, name=f"C{index}")
    assert _evaluation_queries(world) == one


def test_states_alarmed_per_balance_before_become_alarmed_for_the_sum():
    migration = importlib.import_module("notifications.migrations.0004_alert_specifiers")
    customer = CustomerFactory()

    def state(alert_type, alarmed):
        alert = AlertFactory(type=alert_type, threshold=Decimal("100"))
        return CustomerAlert.objects.create(
            alert=alert,
            customer=customer,
            status="in_alarm" if alarmed else "ok",
            alarmed=alarmed,
            updated_at=timezone.now(),
        )

    commit = state("low_remaining_commit_balance_reached", ["c-1", "c-2"])
    credit = state("low_remaining_contract_credit_percentage_reached", ["k-1"])
    calm = state("low_remaining_commit_balance_reached", [])
    days = state("low_remaining_days_for_commit_segment_reached", ["s-1"])
    combined = state(
        "low_remaining_contract_credit_and_commit_balance_reached", [f"balances:{USD}"]
    )

    migration.alarmed_as_sums(django_apps, None)
    assert [
        CustomerAlert.objects.get(pk=s.pk).alarmed for s in (commit, credit, calm, days, combined)
    ] == [
        [f"commits:{USD}"],
        [f"credits:{USD}"],
        [],
        ["s-1"],
        [f"balances:{USD}"],
    ]
