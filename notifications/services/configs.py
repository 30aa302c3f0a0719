"""The v2 notification configurations: offset notifications and system types on or off."""

from __future__ import annotations

from datetime import datetime

from ..models import OffsetNotification, SystemNotification
from .lifecycle import parse_offset

# The system lifecycle types Metronome lists (v2 notifications/system/list).
SYSTEM_TYPES = (
    "contract.create",
    "contract.start",
    "contract.edit",
    "contract.end",
    "contract.archive",
    "commit.create",
    "commit.edit",
    "commit.segment.start",
    "commit.segment.end",
    "credit.create",
    "credit.edit",
    "credit.segment.start",
    "credit.segment.end",
)


def offset_notification_create(
    *, name: str, policy_type: str, offset: str, uniqueness_key: str | None, created_by: str
) -> OffsetNotification:
    """ValueError for an offset that is not a duration; ValidationError for the type."""
    config = OffsetNotification(
        name=name,
        policy_type=policy_type,
        offset=offset,
        offset_seconds=parse_offset(offset),
        uniqueness_key=uniqueness_key,
        created_by=created_by,
    )
    config.full_clean()
    config.save()
    return config


def offset_notification_edit(*, config: OffsetNotification, offset: str) -> OffsetNotification:
    config.offset_seconds = parse_offset(offset)
    config.offset = offset
    config.save(update_fields=["offset", "offset_seconds"])
    return config


def offset_notification_archive(*, config: OffsetNotification, now: datetime):
    if config.archived_at is None:
        config.archived_at = now
        config.save(update_fields=["archived_at"])
    return config


def system_notification_set(*, type: str, is_enabled: bool) -> SystemNotification:
    row, _ = SystemNotification.objects.update_or_create(
        type=type, defaults={"is_enabled": is_enabled}
    )
    return row


def system_notifications() -> list[tuple[str, bool]]:
    """Every system type and whether its webhooks are published."""
    off = set(SystemNotification.objects.filter(is_enabled=False).values_list("type", flat=True))
    return [(t, t not in off) for t in SYSTEM_TYPES]
