"""Threshold alerts end to end: ingest marks the customer, the worker evaluates it from the draft
invoice's selectors, a crossing fires its signed webhook once, and it re-arms."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from customers.models import Commit
from metering.models import UsageMark
from notifications.models import Alert, CustomerAlert, PendingEvaluation
from notifications.services import (
    alerts_evaluate_pending,
    customer_alerts_evaluate,
)

from .conftest import USD

pytestmark = pytest.mark.django_db


def _alert(world, **body):
    body = {"name": "Watch", "customer_id": world["customer"], **body}
    return world["post"]("/v1/alerts/create", body)["id"]


def _alerts(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]


def _status(api_client, alert_id, customer_id):
    response = api_client.post(
        "/v1/customer-alerts/get",
        {"alert_id": alert_id, "customer_id": customer_id},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_a_spend_alert_fires_once_per_crossing_with_metronomes_payload(
    world, endpoint, receiver, api_client
):
    alert_id = _alert(world, alert_type="spend_threshold_reached", threshold=1000)
    assert _status(api_client, alert_id, world["customer"])["customer_status"] == "ok"

    world["ingest"](400)  # 800 cents: below
    assert [r.json["type"] for r in receiver.received] == []
    world["ingest"](150)  # 1,100 cents: crosses
    world["ingest"](10)  # still above: no second webhook

    fired = [r for r in receiver.received if r.json["type"].startswith("alerts.")]
    assert len(fired) == 1
    body = receiver.verify(endpoint.raw_secret, fired[0])
    assert body["type"] == "alerts.spend_threshold_reached"
    properties = body["properties"]
    assert properties["alert_id"] == alert_id
    assert properties["customer_id"] == world["customer"]
    assert properties["alert_name"] == "Watch"
    assert properties["threshold"] == 1000
    assert properties["current_spend"] == 1100
    assert properties["triggered_by"] == "The current usage invoice's spend is 1100."
    state = _status(api_client, alert_id, world["customer"])
    assert state["customer_status"] == "in_alarm"
    assert state["triggered_by"] == "The current usage invoice's spend is 1100."


def test_reset_fires_again_while_the_threshold_is_still_passed(
    world, endpoint, receiver, api_client
):
    alert_id = _alert(world, alert_type="spend_threshold_reached", threshold=100)
    world["ingest"](100)
    response = api_client.post(
        "/v1/customer-alerts/reset",
        {"alert_id": alert_id, "customer_id": world["customer"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.content == b""
    fired = [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]
    assert [f["type"] for f in fired] == ["alerts.spend_threshold_reached"] * 2
    assert fired[0]["id"] != fired[1]["id"]


def test_a_usage_alert_counts_only_its_group_values(world, endpoint, receiver):
    _alert(
        world,
        alert_type="usage_threshold_reached",
        threshold=500,
        billable_metric_id=world["metric"],
        group_values=[{"key": "region", "value": "eu"}],
    )
    world["ingest"](400, region="us")
    world["ingest"](400, region="eu")
    assert receiver.received == []
    world["ingest"](100, region="eu")
    [fired] = [r.json for r in receiver.received]
    assert fired["type"] == "alerts.usage_threshold_reached"
    assert fired["properties"]["billable_metric_id"] == world["metric"]
    assert fired["properties"]["current_usage"] == 500


def test_a_low_commit_balance_fires_when_drafts_burn_it_down_and_rearms_after_a_top_up(
    world, endpoint, receiver, api_client
):
    world["post"](
        "/v1/contracts/customerCommits/create",
        {
            "customer_id": world["customer"],
            "product_id": world["fixed"],
            "type": "PREPAID",
            "priority": 1,
            "applicable_contract_ids": [world["contract"]],
            "invoice_contract_id": world["contract"],
            "access_schedule": {
                "credit_type_id": USD,
                "schedule_items": [
                    {
                        "amount": 1000,
                        "starting_at": (world["start"]).isoformat(),
                        "ending_before": (world["start"] + timedelta(days=400)).isoformat(),
                    }
                ],
            },
            "invoice_schedule": {
                "credit_type_id": USD,
                "schedule_items": [{"amount": 1000, "timestamp": world["start"].isoformat()}],
            },
        },
    )
    alert_id = _alert(
        world, alert_type="low_remaining_commit_balance_reached", threshold=200, credit_type_id=USD
    )
    world["ingest"](300)  # draws 600 of 1,000: 400 left
    assert _alerts(receiver) == []
    world["ingest"](150)  # 100 left
    [fired] = _alerts(receiver)
    assert fired["type"] == "alerts.low_remaining_commit_balance_reached"
    assert fired["properties"]["remaining_balance"] == 100
    assert fired["properties"]["credit_type_id"] == USD
    commit = Commit.objects.get(customer_id=world["customer"])

    world["post"](
        "/v1/contracts/addManualBalanceLedgerEntry",
        {
            "customer_id": world["customer"],
            "id": str(commit.pk),
            "segment_id": str(commit.access_schedule.get().pk),
            "amount": 1000,
            "reason": "top-up",
        },
    )
    resolved = _alerts(receiver)[1]
    assert resolved["type"] == "alerts.low_remaining_commit_balance_resolved"
    assert resolved["properties"]["remaining_balance"] == 1100
    assert _status(api_client, alert_id, world["customer"])["customer_status"] == "ok"


def test_a_global_alert_watches_every_customer_with_a_contract(world, endpoint, receiver):
    world["post"](
        "/v1/alerts/create",
        {"name": "Big spenders", "alert_type": "invoice_total_reached", "threshold": 500},
    )
    world["ingest"](300)
    [fired] = [r.json for r in receiver.received]
    assert fired["type"] == "alerts.invoice_total_reached"
    assert fired["properties"]["invoice_total"] == 600
    assert fired["properties"]["customer_id"] == world["customer"]


def test_evaluate_on_create_false_does_not_fire_for_a_threshold_already_passed(
    world, endpoint, receiver
):
    world["ingest"](1000)
    _alert(
        world,
        alert_type="monthly_invoice_total_spend_threshold_reached",
        threshold=100,
        evaluate_on_create=False,
    )
    world["ingest"](10)
    assert receiver.received == []
    state = CustomerAlert.objects.get(customer_id=world["customer"])
    assert state.status == CustomerAlert.Status.IN_ALARM
    assert state.value == Decimal("2020")


def test_percentage_and_days_left_of_a_credit(world, endpoint, receiver):
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    world["post"](
        "/v1/contracts/customerCredits/create",
        {
            "customer_id": world["customer"],
            "product_id": world["fixed"],
            "priority": 1,
            "applicable_contract_ids": [world["contract"]],
            "access_schedule": {
                "credit_type_id": USD,
                "schedule_items": [
                    {
                        "amount": 1000,
                        "starting_at": world["start"].isoformat(),
                        "ending_before": end.isoformat(),
                    }
                ],
            },
        },
    )
    _alert(world, alert_type="low_remaining_contract_credit_percentage_reached", threshold=25)
    _alert(world, alert_type="low_remaining_days_for_contract_credit_segment_reached", threshold=7)
    [days] = _alerts(receiver)
    assert days["type"] == "alerts.low_remaining_days_for_contract_credit_segment_reached"
    assert days["properties"]["remaining_days"] in (2, 3)
    world["ingest"](400)  # 800 of 1,000 drawn: 20% left
    fired = _alerts(receiver)[-1]
    assert fired["type"] == "alerts.low_remaining_contract_credit_percentage_reached"
    assert fired["properties"]["remaining_percentage"] == 20
    assert fired["properties"]["remaining_balance"] == 200


def test_ingest_only_marks_the_customer_and_one_evaluation_covers_many_batches(world):
    _alert(world, alert_type="spend_threshold_reached", threshold=10**9)
    from django_q.conf import Conf

    Conf.SYNC = False  # the worker is elsewhere: ingest must only mark
    try:
        world["ingest"](1)
        world["ingest"](2)
        world["ingest"](3)
    finally:
        Conf.SYNC = True
    assert list(UsageMark.objects.values_list("customer_id", flat=True)) == ["acme-prod"]
    assert alerts_evaluate_pending() == 0
    assert not UsageMark.objects.exists()
    assert not PendingEvaluation.objects.exists()
    state = CustomerAlert.objects.get(customer_id=world["customer"])
    assert state.value == Decimal("12")


def test_each_evaluation_saves_the_value_and_its_moment_and_only_a_crossing_moves_the_state(world):
    _alert(world, alert_type="spend_threshold_reached", threshold=40)
    world["ingest"](5)  # 2 cents a token
    state = CustomerAlert.objects.get(customer_id=world["customer"])
    assert (state.status, state.value) == ("ok", Decimal("10"))
    moved_at, first = state.updated_at, state.evaluated_at
    later = first + timedelta(minutes=3)
    world["ingest"](6)
    customer_alerts_evaluate(customer_id=world["customer"], now=later, pending=False)
    state.refresh_from_db()
    assert (state.status, state.value, state.evaluated_at) == ("ok", Decimal("22"), later)
    assert state.updated_at == moved_at
    world["ingest"](10)  # evaluated by the worker (synchronous in tests)
    state.refresh_from_db()
    assert (state.status, state.value) == ("in_alarm", Decimal("42"))
    assert state.updated_at > moved_at


def test_a_failing_evaluation_is_logged_and_the_customer_stays_pending(world, monkeypatch, caplog):
    _alert(world, alert_type="spend_threshold_reached", threshold=10)

    def broken(alert, values):
        raise RuntimeError("selector down")

    monkeypatch.setattr("notifications.services.evaluation.measures_for", broken)
    world["ingest"](100)  # the ingest itself succeeds
    assert PendingEvaluation.objects.filter(customer_id=world["customer"]).exists()
    assert f"alerts: evaluating customer {world['customer']} failed" in caplog.text
    monkeypatch.undo()
    assert alerts_evaluate_pending() == 1


def test_an_archived_alert_stops_evaluating(world, endpoint, receiver, api_client):
    alert_id = _alert(world, alert_type="spend_threshold_reached", threshold=10)
    world["post"]("/v1/alerts/archive", {"id": alert_id})
    world["ingest"](100)
    assert receiver.received == []
    assert _status(api_client, alert_id, world["customer"])["customer_status"] is None
    assert Alert.objects.get(pk=alert_id).archived_at is not None
    assert (
        customer_alerts_evaluate(
            customer_id=world["customer"], now=datetime.now(UTC), pending=False
        )
        == 0
    )
