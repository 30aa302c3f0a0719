from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef

from .models import DomainEvent, DomainEventHandling

OUTBOX_RETENTION = timedelta(days=30)


def domain_events_prune(*, now: datetime) -> int:
    """Delete events recorded more than OUTBOX_RETENTION_DAYS (default 30) ago whose every
    handling is done; an event with a handler still pending is kept whatever its age."""
    days = getattr(settings, "OUTBOX_RETENTION_DAYS", None)
    retention = timedelta(days=days) if days is not None else OUTBOX_RETENTION
    pending = DomainEventHandling.objects.filter(event=OuterRef("pk"), done_at__isnull=True)
    old = DomainEvent.objects.filter(created_at__lt=now - retention).exclude(Exists(pending))
    _, deleted = old.delete()
    return deleted.get(DomainEvent._meta.label, 0)
