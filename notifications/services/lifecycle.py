"""Time-based lifecycle notifications: `contract.start`, `contract.end`, `commit.segment.start`,
`commit.segment.end`, `credit.segment.start`, `credit.segment.end`, and the offset notifications
configured on them (`-P7D`: seven days before).

The `notifications.fire_lifecycle_moments` schedule (every minute) looks at the moments that fell
in (last look, now] (for an offset: moment + offset in it) and records each as an outbox event
once (`FiredMoment`); the webhook handler turns them into deliveries like any other event.
Like Metronome's, it is prospective: moments already past when the schedule first ran, or moved
into the past by an edit, are not fired.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction

from core import outbox
from customers.models import AccessSegment, Contract

from ..models import FiredMoment, LifecycleCursor, OffsetNotification

DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_offset(text: str) -> int:
    """Seconds of an ISO 8601 duration in weeks, days, hours, minutes, seconds ("-P7D",
    "PT2H30M"); ValueError for anything else (years and months have no fixed length)."""
    found = DURATION.match(text or "")
    if not found or text.rstrip("T").endswith("P") or text.endswith("T"):
        raise ValueError(
            f"'{text}' is not an ISO 8601 duration in weeks, days, hours, minutes or seconds "
            '(e.g. "-P7D" for seven days before, "PT2H" for two hours after).'
        )
    units = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
    total = sum(
        Decimal(found[name]) * factor for name, factor in units.items() if found[name] is not None
    )
    seconds = int(total)
    return -seconds if found["sign"] == "-" else seconds


def _contract_moments(field: str, lo: datetime, hi: datetime):
    contracts = Contract.objects.filter(archived_at__isnull=True).filter(
        **{f"{field}__gt": lo, f"{field}__lte": hi}
    )
    for contract in contracts.only("id", "customer_id", field):
        moment = getattr(contract, field)
        yield (
            str(contract.pk),
            moment,
            contract.customer_id,
            {"contract_id": str(contract.pk), "customer_id": str(contract.customer_id)},
        )


def _segment_moments(kind: str, field: str, lo: datetime, hi: datetime):
    segments = (
        AccessSegment.objects.filter(**{f"{kind}__isnull": False, f"{kind}__archived_at": None})
        .filter(**{f"{field}__gt": lo, f"{field}__lte": hi})
        .select_related(kind)
    )
    for segment in segments:
        term = getattr(segment, kind)
        siblings = list(term.access_schedule.order_by("starting_at").values_list("pk", flat=True))
        yield (
            str(segment.pk),
            getattr(segment, field),
            term.customer_id,
            {
                f"{kind}_id": str(term.pk),
                "contract_id": str(term.contract_id) if term.contract_id else None,
                "customer_id": str(term.customer_id),
                "segment_id": str(segment.pk),
                "segment_index": siblings.index(segment.pk),
                "segment_count": len(siblings),
            },
        )


def moments(policy_type: str, lo: datetime, hi: datetime):
    """(subject id, moment, customer id, payload) of the moments of a type in (lo, hi]."""
    match policy_type:
        case "contract.start":
            return _contract_moments("starting_at", lo, hi)
        case "contract.end":
            return _contract_moments("ending_before", lo, hi)
        case "commit.segment.start" | "credit.segment.start":
            return _segment_moments(policy_type.split(".")[0], "starting_at", lo, hi)
        case "commit.segment.end" | "credit.segment.end":
            return _segment_moments(policy_type.split(".")[0], "ending_before", lo, hi)
    raise ValueError(policy_type)


def lifecycle_moments_fire(*, now: datetime) -> int:
    """Record every moment (and offset moment) that fell in (last look, now], once each."""
    with transaction.atomic():
        cursor, created = LifecycleCursor.objects.select_for_update().get_or_create(
            pk=1, defaults={"scanned_through": now}
        )
        if created or cursor.scanned_through >= now:
            return 0
        since = cursor.scanned_through
        plans = [(t, 0, None) for t in OffsetNotification.TYPES]
        plans += [
            (o.policy_type, o.offset_seconds, o)
            for o in OffsetNotification.objects.filter(archived_at__isnull=True)
        ]
        fired = 0
        for policy_type, offset, config in plans:
            shift = timedelta(seconds=offset)
            for subject, moment, customer_id, payload in moments(
                policy_type, since - shift, now - shift
            ):
                extra = {"timestamp": moment.isoformat()}
                if config is not None:
                    extra |= {"offset_id": str(config.pk), "offset_duration": config.offset}
                if _fire_once(policy_type, subject, moment, config, now):
                    outbox.record(
                        type=policy_type,
                        subject_id=subject,
                        customer_id=customer_id,
                        occurred_at=now,
                        payload={**payload, **extra},
                    )
                    fired += 1
        cursor.scanned_through = now
        cursor.save(update_fields=["scanned_through"])
    return fired


def _fire_once(policy_type, subject, moment, config, now) -> bool:
    try:
        with transaction.atomic():
            FiredMoment.objects.create(
                type=policy_type,
                subject_id=subject,
                moment=moment,
                offset_id=str(config.pk) if config else "",
                fired_at=now,
            )
    except IntegrityError:
        return False
    return True
