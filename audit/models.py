"""The audit trail's one table: django-auditlog's entry with who acted, as this product knows them.

django-auditlog writes an entry for every create, change and delete of a registered model
(`audit.registry`), from the model's own save and delete signals, so the admin, the API, commands
and tasks are all covered without each calling anything. This model adds what auditlog's user
foreign key cannot say: an API token as the actor, the actor's name as it was at the time, where
the change came from, and the request's id and user agent (Metronome's audit log shape).
"""

import sys
import uuid
from decimal import Decimal, InvalidOperation

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from catalog import money
from core.models import ApiToken

from .context import current_request


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        """Decimal values as people read them (30, not 30.000000000000), and no entry for a save
        that only rewrote a number with other trailing zeros."""
        changes = kwargs.get("changes")
        if changes:
            changes = _normalized(instance, changes)
            if not changes and kwargs.get("action") == AbstractLogEntry.Action.UPDATE:
                return None
            kwargs["changes"] = changes
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_create_many(self, logs: list[tuple[models.Model, dict]]) -> list["AuditEntry"]:
        """`log_create(instance, changes=..., **kwargs)` for many instances of one model, written
        with one INSERT (a batch of finalized invoices): each entry has the fields `log_create`
        gives it and the actor `save` fills in."""
        from auditlog.cid import get_cid

        entries = []
        for instance, given in logs:
            kwargs = dict(given)
            changes = _normalized(instance, kwargs.pop("changes"))
            if not changes and kwargs.get("action") == AbstractLogEntry.Action.UPDATE:
                continue
            entry = self.model(
                content_type=ContentType.objects.get_for_model(instance),
                object_pk=self._get_pk_value(instance),
                object_repr=str(instance),
                serialized_data=self._get_serialized_data_or_none(instance),
                changes=changes,
                cid=get_cid(),
                **kwargs,
            )
            if isinstance(entry.object_pk, int):
                entry.object_id = entry.object_pk
            entry._fill_actor()
            entries.append(entry)
        return self.bulk_create(entries)


def _normalized(instance, changes: dict) -> dict:
    result = {}
    for name, values in changes.items():
        try:
            field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if isinstance(field, models.DecimalField) and isinstance(values, list | tuple):
            values = [_decimal_text(value) for value in values]
            if len(values) == 2 and values[0] == values[1]:
                continue
        result[name] = values
    return result


def _decimal_text(value):
    if value in (None, "None"):
        return "None"
    try:
        return f"{money.normalize(Decimal(str(value))):f}"
    except (InvalidOperation, ValueError):
        return value


class AuditEntry(AbstractLogEntry):
    """One create, change or delete of an audited object: who, when, what, and each changed
    field's old and new value (`changes`: {"field": [old, new]}). Never edited afterwards."""

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"
        COMMAND = "command", "Command"
        SYSTEM = "system", "System (scheduled tasks)"

    actor_token = models.ForeignKey(
        ApiToken,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="API token",
    )
    actor_name = models.CharField(
        max_length=255, blank=True, default="", help_text="Who acted, as named at the time."
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.SYSTEM)
    request_id = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=255, blank=True, default="")

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["timestamp", "id"], name="auditentry_time"),
            models.Index(
                fields=["content_type", "object_pk", "timestamp"], name="auditentry_object"
            ),
        ]

    def save(self, *args, **kwargs):
        if self._state.adding and not self.actor_name:
            self._fill_actor()
        super().save(*args, **kwargs)

    def _fill_actor(self) -> None:
        request = current_request()
        if request is None:
            command = _command_name()
            if command is None:
                self.source, self.actor_name = self.Source.SYSTEM, "System"
            else:
                self.source, self.actor_name = self.Source.COMMAND, f"manage.py {command}"
            self.request_id = self.request_id or uuid.uuid4().hex
            return
        if not getattr(request, "audit_request_id", None):
            request.audit_request_id = (
                request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
            )
        self.request_id = request.audit_request_id
        self.user_agent = request.META.get("HTTP_USER_AGENT", "")[:255]
        self.remote_addr = self.remote_addr or request.META.get("REMOTE_ADDR") or None
        user = getattr(request, "user", None)
        token = getattr(user, "token", None)
        if token is not None:
            self.source = self.Source.API
            self.actor_token_id = token.pk
            self.actor_name = f"API token {token.name}"
        elif user is not None and user.is_authenticated:
            self.source = (
                self.Source.ADMIN if request.path.startswith("/admin/") else self.Source.API
            )
            self.actor = user
            self.actor_email = user.email or None
            self.actor_name = user.get_username()
        else:
            self.source = self.Source.API
            self.actor_name = "Anonymous"

    @property
    def actor_display(self) -> str:
        return self.actor_name or "System"


def _command_name() -> str | None:
    """The management command this process runs, unless it is a server or the task worker
    (whose changes without a request are the system's own)."""
    argv = sys.argv
    if len(argv) < 2 or not argv[0].endswith("manage.py"):
        return None
    if argv[1] in ("qcluster", "runserver", "serve"):
        return None
    return argv[1]
