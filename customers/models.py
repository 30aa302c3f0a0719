"""Customers, their ingest aliases, contracts and the contract terms.

Field names follow Metronome's API (reference sections 3.3, 3.6 and 3.8).
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from catalog import money
from catalog.models import (
    MONEY,
    ArchivableQuerySet,
    Frequency,
    Package,
    PricingUnit,
    Product,
    RateCard,
    is_hour_aligned,
)

HOUR_MESSAGE = "Must be on an hour boundary (minutes and seconds zero, UTC)."


def _window_errors(starting_at, ending_before, *, hour_aligned: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if hour_aligned:
        for name, value in (("starting_at", starting_at), ("ending_before", ending_before)):
            if not is_hour_aligned(value):
                errors[name] = HOUR_MESSAGE
    if starting_at and ending_before and ending_before <= starting_at:
        errors["ending_before"] = "Must be after the start."
    return errors


def _start_before_end(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(ending_before__isnull=True) | Q(ending_before__gt=F("starting_at")),
        name=f"{prefix}_start_before_end",
        violation_error_message="The end must be after the start.",
    )


class Customer(models.Model):
    """Someone who is billed. Events reach it through its id or any of its ingest aliases."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=160)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="Deprecated in Metronome; kept for compatibility."
    )
    salesforce_account_id = models.CharField(max_length=200, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IngestAlias(models.Model):
    """Another id under which this customer's usage events may arrive (unique across customers)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ingest_aliases")
    alias = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "ingest aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["alias"],
                name="ingestalias_unique_alias",
                violation_error_message="This ingest alias already belongs to another customer.",
            ),
            models.CheckConstraint(
                condition=~Q(alias=""),
                name="ingestalias_not_empty",
                violation_error_message="An ingest alias cannot be empty.",
            ),
        ]

    def __str__(self) -> str:
        return self.alias

    def validate_constraints(self, exclude=None) -> None:
        # Name the customer that owns the alias, instead of the constraint's generic message
        # (which would otherwise be reported as well).
        clash = IngestAlias.objects.filter(alias=self.alias).exclude(pk=self.pk)
        if self.alias and clash.exclude(customer_id=self.customer_id).exists():
            owner = clash.select_related("customer").first().customer
            raise ValidationError(
                {"alias": f"The ingest alias '{self.alias}' already belongs to customer '{owner}'."}
            )
        super().validate_constraints(exclude)


class Contract(models.Model):
    """A customer's agreement: a rate card, dates, a usage statement schedule, and terms."""

    class StatementDay(models.TextChoices):
        FIRST_OF_MONTH = "FIRST_OF_MONTH", "First of month"
        CONTRACT_START = "CONTRACT_START", "Contract start"

    class MultiplierPrioritization(models.TextChoices):
        LOWEST_MULTIPLIER = "LOWEST_MULTIPLIER", "Lowest multiplier"
        EXPLICIT = "EXPLICIT", "Explicit priority"

    class BillingProvider(models.TextChoices):
        NONE = "", "None"
        STRIPE = "stripe", "Stripe"
        NETSUITE = "netsuite", "NetSuite"
        AWS_MARKETPLACE = "aws_marketplace", "AWS Marketplace"
        AZURE_MARKETPLACE = "azure_marketplace", "Azure Marketplace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=200, blank=True)
    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="contracts")
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="contracts"
    )
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    usage_statement_frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    usage_statement_day = models.CharField(
        max_length=16, choices=StatementDay.choices, default=StatementDay.FIRST_OF_MONTH
    )
    net_payment_terms_days = models.PositiveIntegerField(default=30)
    multiplier_override_prioritization = models.CharField(
        max_length=20,
        choices=MultiplierPrioritization.choices,
        default=MultiplierPrioritization.LOWEST_MULTIPLIER,
    )
    scheduled_charges_on_usage_invoices = models.BooleanField(
        default=False, help_text="Put scheduled charges and commit purchases on the usage invoice."
    )
    billing_provider = models.CharField(
        max_length=32, choices=BillingProvider.choices, blank=True, default=""
    )
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")
    archived_at = models.DateTimeField(null=True, blank=True)
    billed_through = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The end of its latest finalized usage invoice (kept by invoicing): the "
        "contract cannot end before it.",
    )

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["-starting_at"]
        constraints = [_start_before_end("contract")]

    def __str__(self) -> str:
        return self.name or f"{self.customer} from {self.starting_at:%Y-%m-%d}"

    def clean(self) -> None:
        errors = _window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if self.rate_card_id and self._state.adding and self.rate_card.archived_at is not None:
            errors["rate_card"] = "This rate card is archived; new contracts cannot use it."
        if errors:
            raise ValidationError(errors)

    @property
    def pricing_unit(self) -> PricingUnit:
        return self.rate_card.fiat_credit_type


class ContractTransition(models.Model):
    """One contract following another (Metronome's `transition`): the earlier contract ends when
    the later one starts; on a RENEWAL, the unused part of the earlier contract's commits and
    credits that have a rollover fraction rolls over to the later one (once, when the transition
    takes effect: `rolled_over_at`)."""

    class Type(models.TextChoices):
        RENEWAL = "RENEWAL", "Renewal"
        SUPERSEDE = "SUPERSEDE", "Supersede"

    class TrueUp(models.TextChoices):
        AS_IS = "AS_IS", "As is"
        REMOVE = "REMOVE", "Remove"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.RENEWAL)
    from_contract = models.OneToOneField(
        Contract, on_delete=models.PROTECT, related_name="transition_out"
    )
    to_contract = models.OneToOneField(
        Contract, on_delete=models.CASCADE, related_name="transition_in"
    )
    future_invoice_trueup = models.CharField(
        max_length=6,
        choices=TrueUp.choices,
        blank=True,
        help_text="future_invoice_behavior.trueup as given (empty: AS_IS).",
    )
    rolled_over_at = models.DateTimeField(
        null=True, blank=True, help_text="When the balances rolled over (empty: not yet)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_contract=F("to_contract")),
                name="contracttransition_two_contracts",
                violation_error_message="A contract cannot transition to itself.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.from_contract} -> {self.to_contract}"

    @property
    def starting_at(self):
        """The moment of the transition: the later contract's start."""
        return self.to_contract.starting_at


class BalanceTerm(models.Model):
    """What commits and credits share: a product, access segments, scope, priority."""

    class RateType(models.TextChoices):
        LIST_RATE = "LIST_RATE", "List rate"
        COMMIT_RATE = "COMMIT_RATE", "Commit rate"

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
    applicable_products = models.ManyToManyField(Product, blank=True, related_name="+")
    applicable_product_tags = models.JSONField(default=list, blank=True)
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
        ]

    def __str__(self) -> str:
        return f"{self.amount} from {self.starting_at:%Y-%m-%d %H:%M} to {self.ending_before:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors = _window_errors(self.starting_at, self.ending_before, hour_aligned=True)
        if self.amount is not None and self.amount < 0:
            errors["amount"] = "A segment amount cannot be negative."
        if errors:
            raise ValidationError(errors)


class ScheduleItem(models.Model):
    """One date of a schedule with its amount, or a unit price and a quantity."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    timestamp = models.DateTimeField()
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    quantity = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["timestamp"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=False)
                | Q(unit_price__isnull=False, quantity__isnull=False),
                name="%(class)s_amount_given",
                violation_error_message="Give an amount, or a unit price and a quantity.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d}"

    @property
    def total(self):
        if self.amount is not None:
            return self.amount
        if self.unit_price is None or self.quantity is None:
            return None
        return self.unit_price * self.quantity


class CommitInvoiceItem(ScheduleItem):
    """When and how much a prepaid commit is invoiced."""

    commit = models.ForeignKey(Commit, on_delete=models.CASCADE, related_name="invoice_schedule")

    class Meta(ScheduleItem.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d}: {self.total}"


class Override(models.Model):
    """A negotiated price change on a contract: OVERWRITE, MULTIPLIER or TIERED multipliers."""

    class Type(models.TextChoices):
        OVERWRITE = "OVERWRITE", "Overwrite"
        MULTIPLIER = "MULTIPLIER", "Multiplier"
        TIERED = "TIERED", "Tiered multipliers"

    class Target(models.TextChoices):
        LIST_RATE = "LIST_RATE", "List rate"
        COMMIT_RATE = "COMMIT_RATE", "Commit rate"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="overrides")
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.MULTIPLIER)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    applicable_product_tags = models.JSONField(default=list, blank=True)
    pricing_group_values = models.JSONField(default=dict, blank=True)
    presentation_group_values = models.JSONField(default=dict, blank=True)
    commit_ids = models.JSONField(default=list, blank=True)
    multiplier = models.DecimalField(**MONEY, null=True, blank=True)
    overwrite_rate_type = models.CharField(
        max_length=8, choices=[("FLAT", "Flat"), ("TIERED", "Tiered")], blank=True
    )
    overwrite_price = models.DecimalField(**MONEY, null=True, blank=True)
    overwrite_credit_type = models.ForeignKey(
        PricingUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entitled = models.BooleanField(null=True, blank=True)
    priority = models.DecimalField(**MONEY, null=True, blank=True)
    is_commit_specific = models.BooleanField(default=False)
    target = models.CharField(max_length=12, choices=Target.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starting_at"]
        constraints = [
            _start_before_end("override"),
            models.CheckConstraint(
                condition=~Q(type="MULTIPLIER") | Q(multiplier__gte=0),
                name="override_multiplier_given",
                violation_error_message="A multiplier override needs a multiplier of 0 or more.",
            ),
        ]

    def __str__(self) -> str:
        target = self.product or ", ".join(self.applicable_product_tags) or "all products"
        return f"{self.get_type_display()} on {target}"

    def clean(self) -> None:
        errors = _window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if self.type == self.Type.MULTIPLIER and self.multiplier is None:
            errors["multiplier"] = "A multiplier override needs a multiplier."
        if self.type == self.Type.OVERWRITE and not self.overwrite_rate_type:
            errors["overwrite_rate_type"] = "An overwrite needs the new rate's type."
        if (
            self.type == self.Type.OVERWRITE
            and self.overwrite_rate_type == "FLAT"
            and self.overwrite_price is None
        ):
            errors["overwrite_price"] = "A flat overwrite needs a price."
        if (
            self.type == self.Type.TIERED
            and self.contract_id
            and (
                self.contract.multiplier_override_prioritization
                != Contract.MultiplierPrioritization.EXPLICIT
            )
        ):
            errors["type"] = "Tiered overrides need the contract's explicit override priority."
        if (
            self.contract_id
            and self.contract.multiplier_override_prioritization
            == Contract.MultiplierPrioritization.EXPLICIT
            and self.type != self.Type.OVERWRITE
            and self.priority is None
        ):
            errors["priority"] = "With explicit prioritization every multiplier needs a priority."
        if errors:
            raise ValidationError(errors)


class OverrideTier(models.Model):
    """A tier of an override: a multiplier (TIERED) or a price (a tiered OVERWRITE)."""

    override = models.ForeignKey(Override, on_delete=models.CASCADE, related_name="tiers")
    level = models.PositiveSmallIntegerField()
    size = models.DecimalField(**MONEY, null=True, blank=True)
    multiplier = models.DecimalField(**MONEY, null=True, blank=True)
    price = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["override", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["override", "level"],
                name="overridetier_unique_level",
                violation_error_message="Each tier level appears once.",
            ),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gt=0),
                name="overridetier_size_positive",
                violation_error_message="A tier size must be positive.",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.level}"


class ScheduledCharge(models.Model):
    """A fixed charge billed on given dates (one-off fees, installments)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="scheduled_charges"
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", limit_choices_to={"type": "FIXED"}
    )
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        if self.product_id and self.product.type != Product.Type.FIXED:
            raise ValidationError({"product": "Scheduled charges use a fixed product."})


class ScheduledChargeItem(ScheduleItem):
    """One date of a scheduled charge, with its amount (or unit price x quantity)."""

    scheduled_charge = models.ForeignKey(
        ScheduledCharge, on_delete=models.CASCADE, related_name="schedule_items"
    )

    class Meta(ScheduleItem.Meta):
        pass


class Subscription(models.Model):
    """A recurring fee on the contract, priced by the rate card's SUBSCRIPTION rate."""

    class CollectionSchedule(models.TextChoices):
        ADVANCE = "ADVANCE", "In advance"
        ARREARS = "ARREARS", "In arrears"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"type": "SUBSCRIPTION"},
    )
    name = models.CharField(max_length=200, blank=True)
    billing_frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    collection_schedule = models.CharField(
        max_length=8, choices=CollectionSchedule.choices, default=CollectionSchedule.ADVANCE
    )
    is_prorated = models.BooleanField(default=True)
    initial_quantity = models.DecimalField(**MONEY, default=1)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starting_at"]
        constraints = [
            _start_before_end("subscription"),
            models.CheckConstraint(
                condition=Q(initial_quantity__gte=0),
                name="subscription_quantity_not_negative",
                violation_error_message="The quantity cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        errors = _window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if self.product_id and self.product.type != Product.Type.SUBSCRIPTION:
            errors["product"] = "Subscriptions use a subscription product."
        if errors:
            raise ValidationError(errors)


class ContractEdit(models.Model):
    """One edit of a contract (v2 contracts/edit): what it changed, and its uniqueness key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="edits")
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    changes = models.JSONField(
        default=dict, blank=True, help_text="Ids of the terms added, archived or removed."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True, default="admin")

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Edit of {self.contract} at {self.created_at:%Y-%m-%d %H:%M}"


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
