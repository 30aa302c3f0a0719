"""The alert worker's debounce: metering's marks are taken at most once per
`ALERTS_EVALUATION_INTERVAL`, so a customer is evaluated at most once per interval however many
batches arrive; a crossing still fires (once) at the next take; between takes the worker sleeps,
and gives way to other django-q2 tasks instead of holding the worker."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from metering.models import UsageMark
from notifications.models import AlertEvaluator, CustomerAlert
from notifications.services import alerts_evaluate_pending
from notifications.services.alerts import EVALUATE_TASK, tasks_waiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    """django-q2 as in production: tasks wait in the ORM broker's queue (ingest only marks)."""
    Conf.SYNC = False
    yield
    Conf.SYNC = True


def _spend_alert(world, threshold):
    world["post"](
        "/v1/alerts/create",
        {
            "name": "Spend",
            "customer_id": world["customer"],
            "alert_type": "spend_threshold_reached",
            "threshold": threshold,
        },
    )


def _value(world):
    return CustomerAlert.objects.get(customer_id=world["customer"]).value


def _evaluate(sleep) -> int:
    """The worker, alone in the queue (the wake-ups the ingest queued are dropped)."""
    OrmQ.objects.all().delete()
    return alerts_evaluate_pending(sleep=sleep)


class Clock:
    """The worker's sleep: records each wait and moves the last take back by it (time passes)."""

    def __init__(self, world):
        self.world = world
        self.waits: list[float] = []
        self.values_seen: list = []

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.values_seen.append(_value(self.world))
        evaluator = AlertEvaluator.objects.get()
        evaluator.marks_taken_at -= timedelta(seconds=seconds)
        evaluator.save()


def test_batches_within_the_interval_wait_for_the_next_take_and_are_evaluated_once(
    world, queued, settings
):
    settings.ALERTS_EVALUATION_INTERVAL = 15
    _spend_alert(world, 10**9)
    world["ingest"](1)
    assert _evaluate(pytest.fail) == 0  # the first take: at once
    assert _value(world) == Decimal("2")
    taken = AlertEvaluator.objects.get().marks_taken_at

    world["ingest"](2)
    world["ingest"](3)
    clock = Clock(world)
    _evaluate(clock)
    # Slept (no evaluation) until 15 s after the first take, then one evaluation of both batches.
    assert clock.values_seen == [Decimal("2")] * len(clock.waits)
    assert sum(clock.waits) >= 14
    assert all(0 < wait <= 1.0 for wait in clock.waits)
    assert _value(world) == Decimal("12")
    assert not UsageMark.objects.exists()
    assert AlertEvaluator.objects.get().marks_taken_at > taken


def test_a_crossing_within_the_interval_fires_once_at_the_next_take(
    world, queued, settings, endpoint, receiver
):
    settings.ALERTS_EVALUATION_INTERVAL = 15
    _spend_alert(world, 10)
    world["ingest"](1)
    _evaluate(pytest.fail)
    world["ingest"](10)  # 22 cents: crosses 10
    Conf.SYNC = True  # the webhook is sent in the test
    clock = Clock(world)
    assert _evaluate(clock) == 1
    assert sum(clock.waits) <= 15
    fired = [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]
    assert [f["properties"]["current_spend"] for f in fired] == [22]
    world["ingest"](1)
    assert _evaluate(Clock(world)) == 0  # still above: not again


def test_the_worker_gives_way_to_waiting_tasks_and_comes_back(world, queued, settings):
    settings.ALERTS_EVALUATION_INTERVAL = 15
    _spend_alert(world, 10**9)
    world["ingest"](1)
    _evaluate(pytest.fail)
    world["ingest"](2)
    OrmQ.objects.all().delete()
    async_task("notifications.tasks.send_deliveries", [])
    assert alerts_evaluate_pending(sleep=pytest.fail) == 0  # no sleep: a task waits
    assert [row.func() for row in OrmQ.objects.order_by("id")] == [
        "notifications.tasks.send_deliveries",
        EVALUATE_TASK,
    ]
    # A copy already waits: giving way again queues no other.
    alerts_evaluate_pending(sleep=pytest.fail)
    assert OrmQ.objects.count() == 2
    assert _value(world) == Decimal("2")
    assert UsageMark.objects.exists()  # the new usage stays for the next take


def test_tasks_waiting_names_the_queued_tasks_but_the_running_one(queued):
    async_task(EVALUATE_TASK)
    async_task("notifications.tasks.send_deliveries", [])
    assert tasks_waiting() == [EVALUATE_TASK, "notifications.tasks.send_deliveries"]
    assert tasks_waiting(running=EVALUATE_TASK) == ["notifications.tasks.send_deliveries"]


def test_tasks_waiting_is_empty_when_tasks_run_synchronously():
    assert tasks_waiting() == []


def test_the_evaluation_task_lowers_its_priority_as_configured(settings, monkeypatch):
    from notifications import tasks

    calls = []
    monkeypatch.setattr(tasks.os, "nice", lambda n: calls.append(n) or 3)
    monkeypatch.setattr(tasks, "alerts_evaluate_pending", lambda **kwargs: 0)
    settings.ALERTS_EVALUATION_NICE = 10
    assert tasks.evaluate_alerts() == 0
    assert calls == [0, 7]  # read 3, add 7
    calls.clear()
    settings.ALERTS_EVALUATION_NICE = 0
    tasks.evaluate_alerts()
    assert calls == [0]
