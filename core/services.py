from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef

from .models import ApiToken, DomainEvent, DomainEventHandling

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


def api_token_create(
    *,
    name: str,
    scope: str = ApiToken.Scope.FULL,
    expires_at: datetime | None = None,
    created_by: str = "",
) -> tuple[ApiToken, str]:
    """A new token and its raw value, which is shown once and never stored (only its hash)."""
    return ApiToken.generate(name=name, scope=scope, expires_at=expires_at, created_by=created_by)


def api_token_revoke(*, token: ApiToken, now: datetime) -> ApiToken:
    """Stop a token at once; a revoked token stays listed, for the record."""
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    return token
