"""Time-based lifecycle notifications: contract and segment starts and ends, and offsets,
fired by the schedule once each, prospectively."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from core.models import DomainEvent
from customers.models import Contract
from notifications.models import FiredMoment, OffsetNotification
from notifications.services import (
    lifecycle_moments_fire,
    offset_notification_create,
    parse_offset,
    system_notification_set,
)
from tests.customers.factories import AccessSegmentFactory, ContractFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _fire(now):
    with transaction.atomic():
        return lifecycle_moments_fire(now=now)


def _events(event_type):
    return list(DomainEvent.objects.filter(type=event_type).order_by("id"))


def test_the_first_run_only_starts_the_clock_then_each_moment_fires_once():
    contract = ContractFactory(
        starting_at=T0 + timedelta(minutes=3), ending_before=T0 + timedelta(days=10)
    )
    ContractFactory(starting_at=T0 - timedelta(days=1))  # already past: never fired

    assert _fire(T0) == 0
    assert _fire(T0 + timedelta(minutes=1)) == 0
    assert _fire(T0 + timedelta(minutes=4)) == 1
    assert _fire(T0 + timedelta(minutes=5)) == 0

    [started] = _events("contract.start")
    assert started.payload == {
        "contract_id": str(contract.pk),
        "customer_id": str(contract.customer_id),
        "timestamp": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert started.customer_id == contract.customer_id
    assert _fire(T0 + timedelta(days=10, minutes=1)) == 1
    assert [e.subject_id for e in _events("contract.end")] == [str(contract.pk)]


def test_offsets_fire_before_and_after_and_stop_when_archived():
    contract = ContractFactory(
        starting_at=T0 - timedelta(days=30), ending_before=T0 + timedelta(days=7)
    )
    week_before = offset_notification_create(
        name="Week before the end",
        policy_type="contract.end",
        offset="-P7D",
        uniqueness_key=None,
        created_by="tests",
    )
    offset_notification_create(
        name="An hour after the end",
        policy_type="contract.end",
        offset="PT1H",
        uniqueness_key=None,
        created_by="tests",
    )
    _fire(T0 - timedelta(minutes=1))
    assert _fire(T0 + timedelta(minutes=1)) == 1
    [early] = _events("contract.end")
    assert early.payload["offset_id"] == str(week_before.pk)
    assert early.payload["offset_duration"] == "-P7D"
    assert early.payload["timestamp"] == contract.ending_before.isoformat()

    OffsetNotification.objects.exclude(pk=week_before.pk).update(archived_at=T0)
    assert _fire(T0 + timedelta(days=7, hours=2)) == 1  # the end itself; the archived offset not
    assert len(_events("contract.end")) == 2
    assert FiredMoment.objects.count() == 2


def test_segment_moments_carry_their_index_and_count():
    first = AccessSegmentFactory(
        starting_at=T0 + timedelta(hours=1), ending_before=T0 + timedelta(hours=2)
    )
    AccessSegmentFactory(
        commit=first.commit,
        starting_at=T0 + timedelta(hours=2),
        ending_before=T0 + timedelta(hours=3),
    )
    _fire(T0)
    _fire(T0 + timedelta(hours=2))
    starts = [e.payload for e in _events("commit.segment.start")]
    assert [(p["segment_index"], p["segment_count"]) for p in starts] == [(0, 2), (1, 2)]
    assert starts[0]["commit_id"] == str(first.commit_id)
    assert [e.payload["segment_id"] for e in _events("commit.segment.end")] == [str(first.pk)]


def test_a_switched_off_system_type_is_not_delivered_but_its_offsets_are(endpoint, receiver):
    system_notification_set(type="contract.start", is_enabled=False)
    now = datetime.now(UTC)
    offset_notification_create(
        name="Right after",
        policy_type="contract.start",
        offset="PT1S",
        uniqueness_key=None,
        created_by="tests",
    )
    _fire(now)
    ContractFactory(starting_at=now + timedelta(seconds=1))
    _fire(now + timedelta(seconds=5))
    delivered = [r.json for r in receiver.received if r.json["type"] == "contract.start"]
    assert [d.get("offset_duration") for d in delivered] == ["PT1S"]
    assert len(_events("contract.start")) == 2


def test_offset_durations():
    assert parse_offset("-P7D") == -7 * 86400
    assert parse_offset("PT2H30M") == 9000
    assert parse_offset("P1W") == 604800
    for bad in ("P1M", "7 days", "P", "PT", ""):
        with pytest.raises(ValueError):
            parse_offset(bad)


def test_an_archived_contract_fires_nothing():
    ContractFactory(starting_at=T0 + timedelta(minutes=1), archived_at=T0)
    _fire(T0)
    assert _fire(T0 + timedelta(minutes=2)) == 0
    assert Contract.objects.count() == 1
