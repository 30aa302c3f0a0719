import hashlib
import secrets
import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """A bearer token for the /v1/ and /v2/ API. Only its SHA-256 hash is stored.

    Its scope says what it may call: `ingest` only `POST /v1/ingest` (what a service that sends
    usage needs, and nothing it could leak), `read` every read, `full` everything. A token stops
    working when revoked or once `expires_at` has passed; `last_used_at` is kept to the minute.
    """

    class Scope(models.TextChoices):
        INGEST = "ingest", "Ingest (only POST /v1/ingest)"
        READ = "read", "Read (every read, no change)"
        FULL = "full", "Full (reads and changes)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.FULL)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to tell tokens apart."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Optional: the token stops working from this moment."
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Kept to the minute."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=["ingest", "read", "full"]),
                name="apitoken_scope_known",
                violation_error_message="A token's scope is ingest, read or full.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @classmethod
    def generate(
        cls,
        *,
        name: str,
        scope: str = Scope.FULL,
        expires_at: datetime | None = None,
        created_by: str = "",
    ) -> tuple["ApiToken", str]:
        """Create a token; the raw value is returned once and never stored."""
        raw = f"bk_{secrets.token_urlsafe(32)}"
        token = cls(
            name=name,
            scope=scope,
            expires_at=expires_at,
            created_by=created_by,
            token_hash=cls.hash(raw),
            prefix=raw[:10],
        )
        token.full_clean(exclude=["token_hash", "prefix"])
        token.save()
        return token, raw


class DomainEvent(models.Model):
    """Something that happened that other apps may react to (the transactional outbox).

    Recorded by a service in the same transaction as the change it describes, so a rolled-back
    change leaves no event and a committed one always has its event. Types are Metronome's
    notification names where one exists (`contract.create`, `invoice.finalized`, ...). Apps above
    the one that records it react through handlers (`core.outbox`); each handler's run is a
    `DomainEventHandling` row, done at most once.
    """

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=100)
    subject_id = models.CharField(
        max_length=64, help_text="The id of the object it happened to (a contract, an invoice...)."
    )
    customer_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(help_text="When it happened (the service's `now`).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["type", "id"], name="domainevent_type"),
            models.Index(fields=["customer_id", "id"], name="domainevent_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject_id}"


class DomainEventHandling(models.Model):
    """One handler's run for one event: pending until the handler has succeeded, then done.

    Made with the event for every handler registered for its type. The handler's own writes and
    `done_at` commit together, so a reaction happens exactly once however often it is tried.
    """

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="handlings")
    handler = models.CharField(max_length=200, help_text="Dotted path of the handler function.")
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="domaineventhandling_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="domaineventhandling_pending",
                condition=models.Q(done_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        state = "done" if self.done_at else f"pending after {self.attempts} attempt(s)"
        return f"{self.handler} for event {self.event_id}: {state}"


class CustomFieldKey(models.Model):
    """A custom field key declared for one entity type (Metronome's /v1/customFields/addKey).

    Values live on the entities themselves (their `custom_fields` JSON); `core.custom_fields`
    knows which model each entity type is (apps register them). With `enforce_uniqueness`, two
    entities of the type never hold the same value for the key.
    """

    entity = models.CharField(max_length=40)
    key = models.CharField(max_length=200)
    enforce_uniqueness = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entity", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "key"],
                name="customfieldkey_unique",
                violation_error_message="This key is already declared for this entity type.",
            ),
            models.CheckConstraint(
                condition=~models.Q(key=""),
                name="customfieldkey_not_empty",
                violation_error_message="A key cannot be empty.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.key}"
