"""Commits and credits, their access segments, and the balance ledger."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from catalog import money
from catalog.models import (
    MONEY,
    ArchivableQuerySet,
    PricingUnit,
    Product,
)

from ..hierarchy import CHILD_ACCESS_HELP, child_access_errors
from .common import (
    ACCESS_TYPE_HELP,
    SPECIFIERS_HELP,
    AccessType,
    quantity_errors,
    specifier_errors,
    window_errors,
)
from .contracts import Contract
from .customer import Customer


class BalanceTerm(models.Model):
    """What commits and credits share: a product, access segments, scope, priority."""

    class RateType(models.TextChoices):
        LIST_RATE = "LIST_RATE", "List rate"
        COMMIT_RATE = "COMMIT_RATE", "Commit rate"

    AccessType = AccessType

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="%(class)ss")
    contract = models.ForeignKey(
        Contract,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="%(class)ss",
        help_text="Empty for a customer-level balance.",
    )
    applicable_contracts = models.ManyToManyField(
        Contract, blank=True, related_name="+", help_text="For a customer-level balance."
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", limit_choices_to={"type": "FIXED"}
    )
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    priority = models.DecimalField(**MONEY, default=0)
    rate_type = models.CharField(
        max_length=12, choices=RateType.choices, default=RateType.LIST_RATE
    )
    access_type = models.CharField(
        max_length=8,
        choices=AccessType.choices,
        default=AccessType.SPEND,
        help_text=ACCESS_TYPE_HELP,
    )
    applicable_products = models.ManyToManyField(Product, blank=True, related_name="+")
    applicable_product_tags = models.JSONField(default=list, blank=True)
    specifiers = models.JSONField(default=list, blank=True, help_text=SPECIFIERS_HELP)
    credit_type = models.ForeignKey(
        PricingUnit,
        on_delete=models.PROTECT,
        default=money.USD_CENTS_ID,
        related_name="+",
        verbose_name="pricing unit",
    )
    rollover_fraction = models.DecimalField(**MONEY, null=True, blank=True)
    rolled_over_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rollovers",
        help_text="The earlier contract's balance whose unused part this rollover carries.",
    )
    transition = models.ForeignKey(
        "ContractTransition",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The contract transition that made this rollover balance.",
    )
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True)
    recurring = models.ForeignKey(
        "RecurringBalance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The recurring commit or credit that made this one (for one period).",
    )
    recurrence_start = models.DateTimeField(
        null=True, blank=True, help_text="The start of the period a recurring one was made for."
    )
    seat_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="A per-seat balance: only usage of this seat (the subscription's seat group "
        "key) draws it.",
    )
    threshold_kind = models.CharField(
        max_length=16,
        blank=True,
        help_text="Bought by threshold billing: PREPAID_BALANCE (auto-recharge) or SPEND.",
    )
    child_access = models.JSONField(null=True, blank=True, help_text=CHILD_ACCESS_HELP)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["priority", "created_at"]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        errors = {}
        if self.product_id and self.product.type != Product.Type.FIXED:
            errors["product"] = "Commits and credits use a fixed product."
        if self.contract_id and self.customer_id and self.contract.customer_id != self.customer_id:
            errors["contract"] = "The contract belongs to another customer."
        if self.rollover_fraction is not None and not (0 <= self.rollover_fraction <= 1):
            errors["rollover_fraction"] = "The rollover fraction is between 0 and 1."
        specifiers = specifier_errors(self.specifiers, tags=self.applicable_product_tags)
        if specifiers:
            errors["specifiers"] = specifiers
        if self.access_type == self.AccessType.QUANTITY:
            errors.update(
                quantity_errors(
                    rate_type=self.rate_type,
                    tags=self.applicable_product_tags,
                    specifiers=self.specifiers,
                    postpaid=getattr(self, "type", None) == "POSTPAID",
                )
            )
        access = child_access_errors(self.child_access)
        if access:
            errors["child_access"] = access
        elif self.child_access and self.contract_id is None:
            errors["child_access"] = (
                "Only a contract's commits and credits are shared with its children."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_rollover(self) -> bool:
        """Made by a contract transition: drawn before every other balance, never invoiced."""
        return self.rolled_over_from_id is not None


class Commit(BalanceTerm):
    """A paid balance: PREPAID (invoiced on its schedule) or POSTPAID (trued up at its end)."""

    class Type(models.TextChoices):
        PREPAID = "PREPAID", "Prepaid"
        POSTPAID = "POSTPAID", "Postpaid"

    type = models.CharField(max_length=8, choices=Type.choices, default=Type.PREPAID)
    invoice_contract = models.ForeignKey(
        Contract,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The contract whose invoices bill a customer-level commit.",
    )
    counts_as_discounted = models.BooleanField(
        null=True,
        blank=True,
        help_text="Metronome's spend_tracker_attributes: a commit given by hand that spend "
        "trackers count as discounted spend (unset: not given).",
    )
    threshold_discounted_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Of a discounted threshold purchase, the part bought at the discount (the rest, "
        "past the discount's cap, at full price).",
    )

    class Meta(BalanceTerm.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "uniqueness_key"],
                name="commit_unique_key",
                violation_error_message="This uniqueness key was already used for a commit.",
            ),
            models.CheckConstraint(
                condition=Q(rollover_fraction__isnull=True)
                | Q(rollover_fraction__gte=0, rollover_fraction__lte=1),
                name="commit_rollover_fraction",
                violation_error_message="The rollover fraction is between 0 and 1.",
            ),
            models.UniqueConstraint(
                fields=["rolled_over_from"],
                condition=Q(rolled_over_from__isnull=False),
                name="commit_rolls_over_once",
                violation_error_message="This balance was already rolled over.",
            ),
            models.UniqueConstraint(
                fields=["recurring", "recurrence_start", "seat_id"],
                condition=Q(recurring__isnull=False),
                name="commit_once_per_recurrence",
                violation_error_message="The recurring one already made this period's.",
            ),
        ]


class Credit(BalanceTerm):
    """A free balance (no cost basis), drawn before paid commits at equal priority."""

    class Meta(BalanceTerm.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "uniqueness_key"],
                name="credit_unique_key",
                violation_error_message="This uniqueness key was already used for a credit.",
            ),
            models.CheckConstraint(
                condition=Q(rollover_fraction__isnull=True)
                | Q(rollover_fraction__gte=0, rollover_fraction__lte=1),
                name="credit_rollover_fraction",
                violation_error_message="The rollover fraction is between 0 and 1.",
            ),
            models.UniqueConstraint(
                fields=["rolled_over_from"],
                condition=Q(rolled_over_from__isnull=False),
                name="credit_rolls_over_once",
                violation_error_message="This balance was already rolled over.",
            ),
            models.UniqueConstraint(
                fields=["recurring", "recurrence_start", "seat_id"],
                condition=Q(recurring__isnull=False),
                name="credit_once_per_recurrence",
                violation_error_message="The recurring one already made this period's.",
            ),
        ]

    @property
    def type(self) -> str:
        return "CREDIT"


class AccessSegment(models.Model):
    """One access schedule segment of a commit or credit: an amount usable in [start, end)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    commit = models.ForeignKey(
        Commit, on_delete=models.CASCADE, null=True, blank=True, related_name="access_schedule"
    )
    credit = models.ForeignKey(
        Credit, on_delete=models.CASCADE, null=True, blank=True, related_name="access_schedule"
    )
    amount = models.DecimalField(**MONEY)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField()
    seats = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Made by a recurring commit or credit with a subscription: the seats it grants "
        "(those at the period's start, or those added later in the period).",
    )

    class Meta:
        ordering = ["starting_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(commit__isnull=False, credit__isnull=True)
                | Q(commit__isnull=True, credit__isnull=False),
                name="accesssegment_one_owner",
                violation_error_message="A segment belongs to exactly one commit or credit.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="accesssegment_amount_not_negative",
                violation_error_message="A segment amount cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(ending_before__gt=F("starting_at")),
                name="accesssegment_start_before_end",
                violation_error_message="The end must be after the start.",
            ),
            models.CheckConstraint(
                condition=Q(seats__isnull=True) | Q(seats__gte=0),
                name="accesssegment_seats_not_negative",
                violation_error_message="A segment's seats cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        # Its amount is in its own column, as money (stored, it is in the pricing unit: cents).
        return f"{self.starting_at:%Y-%m-%d %H:%M} to {self.ending_before:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=True)
        if self.amount is not None and self.amount < 0:
            errors["amount"] = "A segment amount cannot be negative."
        if errors:
            raise ValidationError(errors)


class BalanceLedgerEntry(models.Model):
    """One movement of a commit's or credit's balance (Metronome's ledger entry types).

    Segment starts are not stored: they are the access segments themselves (a selector lists them
    first). Stored: automated invoice deductions, expirations and postpaid true-ups written when an
    invoice is finalized (one per invoice, segment and type, so finalizing twice writes nothing
    twice), their reversal when the invoice is voided (`*_CREDITED`), manual entries, and the
    `*_ROLLOVER` entries that take what was left at a contract transition off the earlier
    contract's balance (`contract`: the contract it rolled over to; a rollover balance's own
    start is shown as a `*_ROLLOVER` row, not stored). Amounts are signed: a deduction is
    negative, a manual top-up positive.
    """

    class Type(models.TextChoices):
        PREPAID_COMMIT_SEGMENT_START = (
            "PREPAID_COMMIT_SEGMENT_START",
            "Prepaid commit segment start",
        )
        PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION = (
            "PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
            "Prepaid commit invoice deduction",
        )
        PREPAID_COMMIT_EXPIRATION = "PREPAID_COMMIT_EXPIRATION", "Prepaid commit expiration"
        PREPAID_COMMIT_CREDITED = "PREPAID_COMMIT_CREDITED", "Prepaid commit credited (void)"
        PREPAID_COMMIT_MANUAL = "PREPAID_COMMIT_MANUAL", "Prepaid commit manual entry"
        PREPAID_COMMIT_ROLLOVER = "PREPAID_COMMIT_ROLLOVER", "Prepaid commit rollover"
        POSTPAID_COMMIT_INITIAL_BALANCE = (
            "POSTPAID_COMMIT_INITIAL_BALANCE",
            "Postpaid commit initial balance",
        )
        POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION = (
            "POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
            "Postpaid commit invoice deduction",
        )
        POSTPAID_COMMIT_TRUEUP = "POSTPAID_COMMIT_TRUEUP", "Postpaid commit true-up"
        POSTPAID_COMMIT_MANUAL = "POSTPAID_COMMIT_MANUAL", "Postpaid commit manual entry"
        POSTPAID_COMMIT_ROLLOVER = "POSTPAID_COMMIT_ROLLOVER", "Postpaid commit rollover"
        CREDIT_SEGMENT_START = "CREDIT_SEGMENT_START", "Credit segment start"
        CREDIT_AUTOMATED_INVOICE_DEDUCTION = (
            "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
            "Credit invoice deduction",
        )
        CREDIT_EXPIRATION = "CREDIT_EXPIRATION", "Credit expiration"
        CREDIT_CREDITED = "CREDIT_CREDITED", "Credit credited (void)"
        CREDIT_MANUAL = "CREDIT_MANUAL", "Credit manual entry"
        CREDIT_ROLLOVER = "CREDIT_ROLLOVER", "Credit rollover"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    commit = models.ForeignKey(
        Commit, on_delete=models.CASCADE, null=True, blank=True, related_name="ledger_entries"
    )
    credit = models.ForeignKey(
        Credit, on_delete=models.CASCADE, null=True, blank=True, related_name="ledger_entries"
    )
    segment = models.ForeignKey(
        AccessSegment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    type = models.CharField(max_length=48, choices=Type.choices)
    amount = models.DecimalField(**MONEY, help_text="Signed: deductions are negative.")
    timestamp = models.DateTimeField()
    invoice_id = models.UUIDField(null=True, blank=True, db_index=True)
    contract = models.ForeignKey(
        Contract,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The contract whose invoice made the entry.",
    )
    reason = models.TextField(blank=True)
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp", "created_at"]
        verbose_name_plural = "balance ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(commit__isnull=False, credit__isnull=True)
                | Q(commit__isnull=True, credit__isnull=False),
                name="balanceledgerentry_one_balance",
                violation_error_message="A ledger entry belongs to exactly one commit or credit.",
            ),
            models.UniqueConstraint(
                fields=["invoice_id", "segment", "type"],
                condition=Q(invoice_id__isnull=False),
                name="balanceledgerentry_once_per_invoice",
                violation_error_message="This invoice already wrote this entry for this segment.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.amount}"

    @property
    def balance_id(self):
        return self.commit_id or self.credit_id
