"""Usage events as received, the dedup ledger, and the per-metric pre-aggregates.

Tables and why they are shaped so (the ingest hot path writes all of them in one statement on
PostgreSQL, see `metering.ingest`):

- `UsageEvent`: one row per accepted event, `customer_id` exactly as it arrived. It is resolved to
  a customer when read (`metering.selectors.customer_ingest_ids`), so an event that arrives before
  its alias is attributed as soon as the alias exists and moving an alias moves its usage without
  rewriting anything. Few indexes on purpose: every index is paid by every insert.
- `IngestedTransaction`: the dedup ledger, keyed by `transaction_id`, kept apart from the events
  (so events could later be partitioned by time or customer) and expired after 34 days.
- `DuplicateEvent`: what arrived again under an already accepted `transaction_id`, kept only so
  that `/v1/events/search` can answer `is_duplicate`; never aggregated.
- `MetricAggregate`: per (metric, customer_id as received, UTC hour, group values) the count, sum,
  max and latest value of the events the metric matches. `group_values` is the canonical JSON of
  the event's values for the UNION of the metric's group keys, so any key set of the metric rolls
  up from it exactly.
- `MetricRollup`: the same numbers per whole UTC day and calendar month (`grain`), so a month's
  read adds ~30 (or 1) rows per group instead of ~720. They hold the hours before
  `RollupWatermark.folded_before` only: a schedule folds closed hours into them, off the ingest
  statement. An event older than the watermark (late, or a backfill's) writes its hourly rows and
  marks its day `UnfoldedDay`; reads take marked days from the hourly rows until the fold.
- `MetricDistinctValue`: the distinct aggregation-key values per (metric, customer_id, hour,
  group values), so UNIQUE is `COUNT(DISTINCT value)` over the whole range, not a sum of hourly
  counts.

Exact decimals: aggregate numbers are unconstrained `numeric` on PostgreSQL (summed by the
database, never rounded). SQLite has no exact decimal arithmetic, so there the same columns are
TEXT holding the exact decimal and every sum/max is computed in Python with `Decimal`
(`ExactDecimalField`). `metering.definitions` shows why neither can overflow or round.
"""

import json
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from catalog.models import BillableMetric

DEDUP_WINDOW_DAYS = 34


def _json_value(value) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    return json.dumps(value)


class PropertiesEncoder(json.JSONEncoder):
    """JSON with `Decimal` written as a JSON number, digit for digit (never through float)."""

    def encode(self, o) -> str:
        return _json_value(o)


class PropertiesDecoder(json.JSONDecoder):
    """JSON with every non-integer number read as `Decimal`."""

    def __init__(self, *args, **kwargs):
        kwargs["parse_float"] = Decimal
        super().__init__(*args, **kwargs)


class ExactDecimalField(models.Field):
    """A decimal that stays exact on every backend: `numeric` on PostgreSQL, TEXT on SQLite.

    Only metering's raw SQL writes these columns; on SQLite it does the arithmetic in Python.
    """

    description = "Exact decimal (NUMERIC on PostgreSQL, decimal text on SQLite)"

    def db_type(self, connection) -> str:
        if connection.vendor == "postgresql":
            return "numeric"
        return "text"

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        value = Decimal(value) if not isinstance(value, Decimal) else value
        return value if connection.vendor == "postgresql" else str(value)


class UsageEvent(models.Model):
    """One usage event as sent to /v1/ingest, stored once (duplicates are dropped before this).

    `customer_id` is kept exactly as it arrived (a customer id or an ingest alias); it is resolved
    to a customer when read, so an alias added later attributes earlier events too.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transaction_id = models.CharField(max_length=128)
    customer_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    properties = models.JSONField(
        default=dict, encoder=PropertiesEncoder, decoder=PropertiesDecoder
    )
    received_at = models.DateTimeField()
    is_late = models.BooleanField(
        default=False, help_text="Its timestamp fell in a period already finalized when it arrived."
    )

    class Meta:
        ordering = ["-timestamp"]
        permissions = [("send_test_event", "Can send test events from the sandbox")]
        indexes = [
            models.Index(fields=["customer_id", "timestamp"], name="usageevent_customer_time"),
            models.Index(fields=["transaction_id"], name="usageevent_transaction"),
            models.Index(fields=["timestamp"], name="usageevent_time"),
            # Late events are rare: a partial index counts a customer's at once, and an event
            # that is not late (nearly all of them) costs it nothing at insert.
            models.Index(fields=["customer_id"], condition=Q(is_late=True), name="usageevent_late"),
        ]

    def __str__(self) -> str:
        return self.transaction_id


class IngestedTransaction(models.Model):
    """A `transaction_id` accepted in the last 34 days: a later event with it is a duplicate.

    Rows older than the window are ignored by ingestion (and deleted by
    `metering.services.ingested_transactions_expire`), so the id can be used again afterwards.
    """

    transaction_id = models.CharField(max_length=128, primary_key=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.transaction_id


class UsageMark(models.Model):
    """A customer id (as events arrive: an id or an alias) with usage stored since the apps above
    last looked (threshold alerts re-evaluate those customers).

    Ingestion inserts one row per customer id of an accepted batch, in the same statement as the
    events, skipping ids already marked: one cheap write per batch, whatever the number of events.
    A reader takes marks away (`metering.services.usage_marks_take`) and reads the usage after.
    """

    customer_id = models.CharField(max_length=255, primary_key=True)
    marked_at = models.DateTimeField()

    class Meta:
        ordering = ["marked_at"]

    def __str__(self) -> str:
        return f"{self.customer_id} (new usage since {self.marked_at:%Y-%m-%d %H:%M:%S})"


class DuplicateEvent(models.Model):
    """An event that arrived under an already accepted `transaction_id`: dropped, only remembered.

    Never aggregated; kept for 34 days so that `/v1/events/search` can show `is_duplicate`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transaction_id = models.CharField(max_length=128)
    customer_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    properties = models.JSONField(
        default=dict, encoder=PropertiesEncoder, decoder=PropertiesDecoder
    )
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["transaction_id"], name="duplicateevent_transaction"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} (duplicate)"


class AggregateNumbers(models.Model):
    """What a pre-aggregate row holds about the events it covers (abstract): how many, the sum and
    max of their numeric values (SUM, MAX), and the latest one's value, timestamp and transaction
    id (LATEST; ties: the greater transaction id)."""

    event_count = models.BigIntegerField(default=0)
    value_sum = ExactDecimalField(null=True)
    value_max = ExactDecimalField(null=True)
    latest_value = ExactDecimalField(null=True)
    latest_timestamp = models.DateTimeField(null=True)
    latest_transaction_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        abstract = True


class MetricAggregate(AggregateNumbers):
    """What one metric measured for one customer id, one UTC hour and one set of group values.

    `group_values` is canonical JSON (sorted keys, values as text) over the union of the metric's
    group keys; a key the event did not carry is absent. `value_sum`/`value_max` are over the
    numeric aggregation-key values (SUM, MAX); `latest_*` is the event with the latest timestamp
    (ties: the greater transaction id) for LATEST; `event_count` counts contributing events.
    The metric is never deleted (only archived), so no database foreign key is kept: the check
    would cost a lookup per upserted row on the ingest hot path.
    """

    pk = models.CompositePrimaryKey("metric_id", "customer_id", "hour", "group_values")
    metric = models.ForeignKey(
        BillableMetric,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    customer_id = models.CharField(max_length=255)
    hour = models.DateTimeField()
    group_values = models.TextField()

    class Meta:
        ordering = ["metric_id", "customer_id", "hour"]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.customer_id} {self.hour:%Y-%m-%d %H}h {self.group_values}"


class MetricRollup(AggregateNumbers):
    """The hourly pre-aggregates of one metric, customer id and set of group values added up over a
    whole UTC day or calendar month (`grain`, starting at `period_start`): the coarser tier a long
    window reads for the days (months) it covers whole, and the hourly rows only at its edges
    (`metering.stores.relational.rollups`).

    Holds the hours before `RollupWatermark.folded_before`: folded from the hourly rows by a
    schedule (which also recomputes the days `UnfoldedDay` marks: events older than it), rebuilt
    from the hourly rows wherever those are rebuilt (a metric's backfill, a draft preview); so it
    holds exactly what those hours hold. COUNT, SUM, MAX and LATEST roll up exactly; UNIQUE does
    not (distinct values are not additive) and is always read from `MetricDistinctValue`.
    """

    class Grain(models.TextChoices):
        DAY = "day", "UTC day"
        MONTH = "month", "UTC calendar month"

    pk = models.CompositePrimaryKey(
        "metric_id", "customer_id", "grain", "period_start", "group_values"
    )
    metric = models.ForeignKey(
        BillableMetric,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    customer_id = models.CharField(max_length=255)
    grain = models.CharField(max_length=5, choices=Grain.choices)
    period_start = models.DateTimeField()
    group_values = models.TextField()

    class Meta:
        ordering = ["metric_id", "customer_id", "grain", "period_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grain__in=["day", "month"]), name="metricrollup_grain_known"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.metric_id} {self.customer_id} {self.grain} {self.period_start:%Y-%m-%d} "
            f"{self.group_values}"
        )


class RollupWatermark(models.Model):
    """Where the day and month tier (`MetricRollup`) stands: its rows hold exactly the hourly rows
    of the hours before `folded_before`; a read adds the hourly rows from it on
    (`metering.stores.relational.rollups`). One row; only moves forward.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    folded_before = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="rollupwatermark_single_row"),
        ]

    def __str__(self) -> str:
        return f"day and month rows hold the hours before {self.folded_before:%Y-%m-%d %H:%M}"


class UnfoldedDay(models.Model):
    """A UTC day of one metric and customer id whose hourly rows changed after the tier's watermark
    had passed it (an event older than `RollupWatermark.folded_before`: late, or sent by a
    backfill): its day row and its month's row (`MetricRollup`) do not hold that change yet.

    The ingest statement writes this marker instead of the day and month rows (one row per day,
    not a hot per-month row updated by every batch); a read takes a marked day from its hourly
    rows and its month from the unmarked day rows plus those hours; the fold recomputes the marked
    days' and months' rows from the hourly rows and deletes the markers
    (`metering.stores.relational.rollups`). Append-only between folds: at most one row per metric,
    customer id and day.
    """

    pk = models.CompositePrimaryKey("metric_id", "customer_id", "day")
    metric = models.ForeignKey(
        BillableMetric,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    customer_id = models.CharField(max_length=255)
    day = models.DateTimeField()
    month = models.DateTimeField(help_text="The start of the calendar month holding `day`.")

    class Meta:
        ordering = ["metric_id", "customer_id", "day"]
        constraints = [
            models.CheckConstraint(condition=Q(month__lte=F("day")), name="unfoldedday_in_month"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.customer_id} {self.day:%Y-%m-%d} not folded"

    def clean(self) -> None:
        from .stores.tiers import period_start

        if self.day is not None and self.month != period_start("month", self.day):
            raise ValidationError({"month": "The start of the calendar month holding the day."})


class MetricDistinctValue(models.Model):
    """One distinct aggregation-key value seen for a UNIQUE metric in one hour and group.

    The value is text (numbers in canonical decimal form, booleans as true/false); values longer
    than 200 characters are stored as their SHA-256 so the key stays indexable.
    """

    pk = models.CompositePrimaryKey("metric_id", "customer_id", "hour", "group_values", "value")
    metric = models.ForeignKey(
        BillableMetric,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    customer_id = models.CharField(max_length=255)
    hour = models.DateTimeField()
    group_values = models.TextField()
    value = models.TextField()

    class Meta:
        ordering = ["metric_id", "customer_id", "hour"]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.customer_id} {self.hour:%Y-%m-%d %H}h {self.value}"


class SqlMetricResult(models.Model):
    """A SQL metric's rows for one scope (ingest ids, window, usage filter), kept while the
    events counted in the window's hours (`fingerprint`) are unchanged (`metering.sql_metrics`).
    For a quotient read hour by hour, `parts` keeps what `rows` divides: each group's numerator
    and denominator parts over the window (`sql_metrics.quotients`). A cache: deleting every row
    changes no answer."""

    metric = models.ForeignKey(
        BillableMetric, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    scope = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    rows = models.JSONField(default=list)
    parts = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["metric", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "scope"], name="sqlmetricresult_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.scope[:12]}"


class SqlMetricHour(models.Model):
    """One span of an hourly SQL metric's cached result for a scope: `hours` hours from `hour`
    (one hour, or hours of one UTC day read together), their rows and the events counted in
    them when they were read (`metering.sql_metrics.spans`). Only spans whose count changed
    are read again. A cache: deleting every row changes no answer."""

    metric = models.ForeignKey(
        BillableMetric, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    scope = models.CharField(max_length=64)
    hour = models.DateTimeField()
    hours = models.PositiveSmallIntegerField(default=1)
    event_count = models.BigIntegerField()
    rows = models.JSONField(default=list)

    class Meta:
        ordering = ["metric", "scope", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "scope", "hour"], name="sqlmetrichour_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(hours__gte=1, hours__lte=24), name="sqlmetrichour_in_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.scope[:12]} {self.hour:%Y-%m-%d %H}h +{self.hours}h"
