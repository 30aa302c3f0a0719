"""Threshold alerts (Metronome's threshold notifications) and their state per customer."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog import money
from catalog.models import MONEY, BillableMetric, PricingUnit
from core.custom_fields import custom_field_keys
from customers.models import Commit, Customer


class Alert(models.Model):
    """A threshold watched for one customer, or for every customer (`customer` empty).

    High alerts (spend, invoice totals, usage) are reached when the value is at or above the
    threshold; low alerts (remaining balance, percentage, days) when it is at or below it.
    """

    class Type(models.TextChoices):
        SPEND = "spend_threshold_reached", "Spend of the current usage invoice"
        MONTHLY_INVOICE_TOTAL = (
            "monthly_invoice_total_spend_threshold_reached",
            "Invoice totals of the calendar month",
        )
        INVOICE_TOTAL = "invoice_total_reached", "An invoice's total"
        USAGE = "usage_threshold_reached", "Usage of a billable metric this period"
        COMMIT_BALANCE = "low_remaining_commit_balance_reached", "Low commit balance"
        COMMIT_PERCENTAGE = "low_remaining_commit_percentage_reached", "Low commit percentage"
        CREDIT_BALANCE = (
            "low_remaining_contract_credit_balance_reached",
            "Low credit balance",
        )
        CREDIT_PERCENTAGE = (
            "low_remaining_contract_credit_percentage_reached",
            "Low credit percentage",
        )
        COMBINED_BALANCE = (
            "low_remaining_contract_credit_and_commit_balance_reached",
            "Low credit and commit balance",
        )
        COMBINED_PERCENTAGE = (
            "low_remaining_contract_credit_and_commit_percentage_reached",
            "Low credit and commit percentage",
        )
        COMMIT_SEGMENT_DAYS = (
            "low_remaining_days_for_commit_segment_reached",
            "Few days left in a commit segment",
        )
        CREDIT_SEGMENT_DAYS = (
            "low_remaining_days_for_contract_credit_segment_reached",
            "Few days left in a credit segment",
        )

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        ARCHIVED = "archived", "Archived"

    HIGH = frozenset({Type.SPEND, Type.MONTHLY_INVOICE_TOTAL, Type.INVOICE_TOTAL, Type.USAGE})
    PERCENTAGE = frozenset(
        {Type.COMMIT_PERCENTAGE, Type.CREDIT_PERCENTAGE, Type.COMBINED_PERCENTAGE}
    )
    COMMIT_TYPES = frozenset(
        {Type.COMMIT_BALANCE, Type.COMMIT_PERCENTAGE, Type.COMMIT_SEGMENT_DAYS}
    )
    CREDIT_TYPES = frozenset(
        {Type.CREDIT_BALANCE, Type.CREDIT_PERCENTAGE, Type.CREDIT_SEGMENT_DAYS}
    )
    COMBINED_TYPES = frozenset({Type.COMBINED_BALANCE, Type.COMBINED_PERCENTAGE})
    BALANCE_TYPES = COMMIT_TYPES | CREDIT_TYPES | COMBINED_TYPES
    # The balance alerts that sum amounts (remaining balance or percentage): they sum the
    # balances of their `access_type` (Metronome's list; the days-left ones measure days).
    AMOUNT_TYPES = BALANCE_TYPES - {Type.COMMIT_SEGMENT_DAYS, Type.CREDIT_SEGMENT_DAYS}

    # Metronome's custom field filter entities: the custom field entity types (`core.custom_fields`)
    # whose values they read, and the alert types each may filter.
    FILTER_ENTITIES = {
        "Contract": ("contract",),
        "Commit": ("commit",),
        "ContractCredit": ("contract_credit",),
        "ContractCreditOrCommit": ("commit", "contract_credit"),
    }
    FILTERABLE = {
        "Contract": frozenset(Type.values),
        "Commit": COMMIT_TYPES | COMBINED_TYPES,
        "ContractCredit": CREDIT_TYPES | COMBINED_TYPES,
        "ContractCreditOrCommit": BALANCE_TYPES,
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=80, choices=Type.choices)
    threshold = models.DecimalField(**MONEY)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: every customer.",
    )
    billable_metric = models.ForeignKey(
        BillableMetric, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_type = models.ForeignKey(
        PricingUnit,
        on_delete=models.PROTECT,
        default=money.USD_CENTS_ID,
        related_name="+",
        verbose_name="pricing unit",
    )
    access_type = models.CharField(
        max_length=8,
        choices=Commit.AccessType.choices,
        default=Commit.AccessType.SPEND,
        help_text="Balance and percentage alerts: the balances they sum. SPEND: money, those in "
        "the pricing unit. QUANTITY: units of usage products, whatever the pricing unit.",
    )
    group_values = models.JSONField(
        default=list, blank=True, help_text='Usage alerts: [{"key": ..., "value": ...}].'
    )
    invoice_types_filter = models.JSONField(default=list, blank=True)
    custom_field_filters = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"entity": "Contract" | "Commit" | "ContractCredit" | '
        '"ContractCreditOrCommit", "key": ..., "value": ...}]: all must match.',
    )
    alert_specifiers = models.JSONField(
        default=list,
        blank=True,
        help_text='Combined balance alerts: [{"custom_field_filters": [{"entity", "key", '
        '"value"?}], "exclude": [{"custom_field_filters": [...]}]}]. A balance counts when it '
        "matches one specifier (every filter of it, none of its excludes); a filter without a "
        "value groups the balances by that key's value, each group measured on its own.",
    )
    evaluate_on_create = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(type="usage_threshold_reached") | Q(billable_metric__isnull=False),
                name="alert_usage_has_metric",
                violation_error_message="A usage alert needs a billable metric.",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0),
                name="alert_threshold_not_negative",
                violation_error_message="The threshold cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.type == self.Type.USAGE and not self.billable_metric_id:
            errors["billable_metric"] = "A usage alert needs a billable metric."
        if self.threshold is not None and self.threshold < 0:
            errors["threshold"] = "The threshold cannot be negative."
        if self.type in self.PERCENTAGE and self.threshold is not None and self.threshold > 100:
            errors["threshold"] = "A percentage threshold is from 0 to 100."
        if self.access_type == Commit.AccessType.QUANTITY and self.type not in self.AMOUNT_TYPES:
            errors["access_type"] = (
                "QUANTITY is for the balance and percentage alerts (units left); this alert "
                "does not sum balances."
            )
        errors.update(self._custom_field_filter_errors())
        if errors:
            raise ValidationError(errors)

    def _custom_field_filter_errors(self) -> dict:
        """Each filter (of `custom_field_filters` and of the `alert_specifiers`) names a known
        entity that fits the alert type, a key declared for that entity
        (`/v1/customFields/addKey`; checked when the alert is made: a key removed later only
        makes the filter match nothing) and a string value (a specifier's own filters may leave
        it out: they group by the key)."""
        filters = self.custom_field_filters
        if not isinstance(filters, list):
            return {"custom_field_filters": "Must be a list."}
        specifiers = self.alert_specifiers
        if not isinstance(specifiers, list):
            return {"alert_specifiers": "Must be a list."}
        if specifiers and self.type not in self.COMBINED_TYPES:
            return {"alert_specifiers": self.specifiers_refused()}
        checked = [(f"custom_field_filters[{i}]", item, True) for i, item in enumerate(filters)]
        for index, specifier in enumerate(specifiers):
            at = f"alert_specifiers[{index}]"
            if not isinstance(specifier, dict):
                return {at: "Must be an object with custom_field_filters and exclude."}
            for name in ("custom_field_filters", "exclude"):
                if not isinstance(specifier.get(name, []), list):
                    return {f"{at}.{name}": "Must be a list."}
            checked += [
                (f"{at}.custom_field_filters[{i}]", item, False)
                for i, item in enumerate(specifier.get("custom_field_filters", []))
            ]
            for e, exclude in enumerate(specifier.get("exclude", [])):
                inner = exclude.get("custom_field_filters") if isinstance(exclude, dict) else None
                if not isinstance(inner, list):
                    return {f"{at}.exclude[{e}].custom_field_filters": "Must be a list."}
                checked += [
                    (f"{at}.exclude[{e}].custom_field_filters[{i}]", item, True)
                    for i, item in enumerate(inner)
                ]
        entities = [
            e
            for _, f, _ in checked
            if isinstance(f, dict)
            for e in self.FILTER_ENTITIES.get(f.get("entity"), ())
        ]
        declared = None
        if self._state.adding:
            declared = set()
            if entities:
                keys = custom_field_keys(entities=set(entities))
                declared = set(keys.values_list("entity", "key"))
        for at, item, value_required in checked:
            found = self._filter_errors(at, item, declared, value_required=value_required)
            if found:
                return found
        return {}

    def _filter_errors(self, at: str, item, declared, *, value_required: bool) -> dict:
        if not isinstance(item, dict):
            return {at: "Must be an object with entity, key and value."}
        entity, key, value = item.get("entity"), item.get("key"), item.get("value")
        if entity not in self.FILTER_ENTITIES:
            return {f"{at}.entity": f"'{entity}' is not one of {', '.join(self.FILTER_ENTITIES)}."}
        if self.type not in self.FILTERABLE[entity]:
            return {f"{at}.entity": f"A {entity} filter does not apply to {self.type} alerts."}
        if not isinstance(key, str) or not key:
            return {f"{at}.key": "Required (a custom field key)."}
        kept = self.FILTER_ENTITIES[entity]
        if declared is not None and not any((kind, key) in declared for kind in kept):
            return {
                f"{at}.key": f"'{key}' is not a custom field key of {' or '.join(kept)}; add "
                "it with /v1/customFields/addKey first."
            }
        if value is None and not value_required:
            return {}
        if not isinstance(value, str):
            return {f"{at}.value": "Required (the value to match, a string)."}
        return {}

    def specifiers_refused(self) -> str:
        """Why this alert takes no `alert_specifiers` (Metronome: combined balances only)."""
        return f"Only for {' and '.join(sorted(self.COMBINED_TYPES))} alerts, not {self.type}."

    @staticmethod
    def _filters_label(filters) -> str:
        return " and ".join(
            f"{f.get('entity')} {f.get('key')} = {f.get('value')}"
            if f.get("value") is not None
            else f"each {f.get('entity')} {f.get('key')} apart"
            for f in filters or []
        )

    @property
    def custom_field_filters_label(self) -> str:
        """The filters as a person reads them ("Contract team = platform and ...")."""
        return self._filters_label(self.custom_field_filters)

    @property
    def alert_specifiers_label(self) -> str:
        """The specifiers as a person reads them ("Commit team = eu except ContractCredit
        perpetual = yes; or each ContractCreditOrCommit team apart")."""
        parts = []
        for specifier in self.alert_specifiers or []:
            text = self._filters_label(specifier.get("custom_field_filters")) or "every balance"
            for exclude in specifier.get("exclude") or []:
                text += f" except {self._filters_label(exclude.get('custom_field_filters'))}"
            parts.append(text)
        return "; or ".join(parts)

    @property
    def counts_units(self) -> bool:
        """A balance or percentage alert over QUANTITY balances: it sums units, in no pricing
        unit."""
        return self.type in self.AMOUNT_TYPES and self.access_type == Commit.AccessType.QUANTITY

    @property
    def is_high(self) -> bool:
        return self.type in self.HIGH

    def reached(self, value) -> bool:
        return value >= self.threshold if self.is_high else value <= self.threshold


class CustomerAlert(models.Model):
    """Where one alert stands for one customer: `evaluating` until first evaluated (or after a
    reset), then `ok` or `in_alarm`.

    `alarmed` lists the subjects now past the threshold (the customer, an invoice, a commit or
    credit): each fires the alert's webhook once when it crosses, and re-arms when its value falls
    back (a new period, a top-up) or on reset.
    """

    class Status(models.TextChoices):
        OK = "ok", "OK"
        IN_ALARM = "in_alarm", "In alarm"
        EVALUATING = "evaluating", "Evaluating"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="customer_states")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.EVALUATING)
    alarmed = models.JSONField(default=list, blank=True)
    value = models.DecimalField(**MONEY, null=True, blank=True, help_text="Last value measured.")
    triggered_by = models.CharField(max_length=300, blank=True)
    silent = models.BooleanField(
        default=False,
        help_text="The next evaluation only records where it stands (evaluate_on_create false).",
    )
    evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["alert__created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "customer"],
                name="customeralert_once",
                violation_error_message="This customer already has a state for this alert.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert} for {self.customer}: {self.get_status_display()}"


class PendingEvaluation(models.Model):
    """A customer whose alerts must be evaluated again (new usage, a balance change, a reset, the
    hourly sweep). An evaluation deletes the row in the transaction that records its result, so
    a worker that dies mid-evaluation leaves it for the next one."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    queued_at = models.DateTimeField()

    class Meta:
        ordering = ["queued_at"]

    def __str__(self) -> str:
        return f"{self.customer} (queued {self.queued_at:%Y-%m-%d %H:%M:%S})"


class AlertEvaluator(models.Model):
    """The alert worker's one row. `marks_taken_at`: when it last took metering's usage marks; the
    next take waits `ALERTS_EVALUATION_INTERVAL` seconds (the debounce: a customer with new usage
    is evaluated at most once per interval, whatever the ingest rate, so the worker's work is
    bounded by the customers, not the events)."""

    ONE = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONE)
    marks_taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1),
                name="alertevaluator_one_row",
                violation_error_message="There is one alert evaluator row.",
            ),
        ]

    def __str__(self) -> str:
        return f"Alert evaluator (marks last taken {self.marks_taken_at or 'never'})"
