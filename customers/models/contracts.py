"""Contracts, their transitions and their edit history."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from catalog.models import (
    ArchivableQuerySet,
    Frequency,
    Package,
    PricingUnit,
    RateCard,
)

from .. import periods
from .common import start_before_end, window_errors
from .customer import Customer


class Contract(models.Model):
    """A customer's agreement: a rate card, dates, a usage statement schedule, and terms."""

    class StatementDay(models.TextChoices):
        FIRST_OF_MONTH = "FIRST_OF_MONTH", "First of month"
        CONTRACT_START = "CONTRACT_START", "Contract start"
        CUSTOM_DATE = "CUSTOM_DATE", "Custom date (the billing anchor date)"

    class MultiplierPrioritization(models.TextChoices):
        LOWEST_MULTIPLIER = "LOWEST_MULTIPLIER", "Lowest multiplier"
        EXPLICIT = "EXPLICIT", "Explicit priority"

    class Payer(models.TextChoices):
        SELF = "SELF", "The child pays"
        PARENT = "PARENT", "The parent pays"

    class StatementBehavior(models.TextChoices):
        CONSOLIDATE = "CONSOLIDATE", "On the parent's consolidated invoices"
        SEPARATE = "SEPARATE", "Separate"

    class Consolidation(models.TextChoices):
        CONCATENATE = "CONCATENATE", "Concatenate the children's statements"
        NONE = "NONE", "No consolidated invoice"

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
    billing_anchor_date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="With the usage statement day CUSTOM_DATE: periods are counted from this date "
        "(monthly on its day of the month, clamped to the month's end).",
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
        max_length=32,
        choices=BillingProvider.choices,
        blank=True,
        default="",
        help_text="Where its finalized invoices are sent; with no configuration chosen, the "
        "customer's active configuration of this provider is used.",
    )
    billing_provider_configuration = models.ForeignKey(
        "customers.BillingProviderConfiguration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracts",
        help_text="The customer's billing provider account its invoices are sent to.",
    )
    revenue_system_configuration = models.ForeignKey(
        "customers.RevenueSystemConfiguration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracts",
        help_text="The customer's revenue system record its revenue belongs to (stored and "
        "carried in its invoices' events; nothing is sent to the revenue system).",
    )
    uniqueness_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    prepaid_balance_threshold_configuration = models.JSONField(
        null=True,
        blank=True,
        help_text="Auto-recharge: when the prepaid balance falls below threshold_amount, a "
        "commit brings it back to recharge_to_amount (Metronome's shape).",
    )
    spend_threshold_configuration = models.JSONField(
        null=True,
        blank=True,
        help_text="Spend threshold billing: each time unbilled spend reaches threshold_amount, "
        "it is billed at once (Metronome's shape).",
    )
    # Account hierarchy (Metronome's hierarchy_configuration): a child names its one parent; the
    # parent's commits and credits whose child_access allows it are drawn by the child's usage.
    parent_contract = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="child_contracts",
        help_text="A child contract's parent: its commits and credits shared with children are "
        "drawn by this contract's usage, after this contract's own.",
    )
    hierarchy_payer = models.CharField(
        max_length=6,
        choices=Payer.choices,
        blank=True,
        help_text="A child's payer: PARENT bills its invoices to whoever pays for the parent "
        "(its billing provider, its bill-to); SELF or empty to the child itself.",
    )
    hierarchy_usage_statement_behavior = models.CharField(
        max_length=11,
        choices=StatementBehavior.choices,
        blank=True,
        help_text="A child's usage statement behavior: CONSOLIDATE (with payer PARENT) puts its "
        "usage invoices on the parent's consolidated invoice of each period; SEPARATE or empty "
        "keeps them apart.",
    )
    hierarchy_depth = models.PositiveSmallIntegerField(
        default=0,
        editable=False,
        help_text="How many ancestors it has (0: no parent; 1: a child; 2: a grandchild...). "
        "Invoices of one period draw shared balances deepest first.",
    )
    invoice_consolidation_type = models.CharField(
        max_length=11,
        choices=Consolidation.choices,
        blank=True,
        help_text="A parent's parent_behavior.invoice_consolidation_type: CONCATENATE adds the "
        "parent's own usage invoice to the consolidated one; NONE takes no consolidating "
        "children; empty consolidates the children only.",
    )
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
        constraints = [
            start_before_end("contract"),
            models.CheckConstraint(
                condition=Q(usage_statement_day="CUSTOM_DATE", billing_anchor_date__isnull=False)
                | (~Q(usage_statement_day="CUSTOM_DATE") & Q(billing_anchor_date__isnull=True)),
                name="contract_anchor_date_with_custom_date",
                violation_error_message="A billing anchor date goes with the usage statement day "
                "CUSTOM_DATE, and CUSTOM_DATE needs one.",
            ),
            models.CheckConstraint(
                condition=~Q(parent_contract=F("id")),
                name="contract_not_own_parent",
                violation_error_message="A contract cannot be its own parent.",
            ),
            models.CheckConstraint(
                condition=Q(parent_contract__isnull=False)
                | Q(hierarchy_payer="", hierarchy_usage_statement_behavior=""),
                name="contract_child_fields_with_parent",
                violation_error_message="Only a child contract (with a parent) has a payer and a "
                "usage statement behavior.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.customer} from {self.starting_at:%Y-%m-%d}"

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        custom = self.usage_statement_day == self.StatementDay.CUSTOM_DATE
        if custom and self.billing_anchor_date is None:
            errors["billing_anchor_date"] = "CUSTOM_DATE needs a billing anchor date."
        elif not custom and self.billing_anchor_date is not None:
            errors["billing_anchor_date"] = "Only the usage statement day CUSTOM_DATE has one."
        if self.rate_card_id and self._state.adding and self.rate_card.archived_at is not None:
            errors["rate_card"] = "This rate card is archived; new contracts cannot use it."
        config = self.billing_provider_configuration
        if config is not None:
            if config.customer_id != self.customer_id:
                errors["billing_provider_configuration"] = (
                    "This billing provider configuration belongs to another customer."
                )
            elif self.billing_provider != config.billing_provider:
                errors["billing_provider"] = (
                    f"Must be {config.billing_provider}, the provider of its configuration."
                )
        revenue = self.revenue_system_configuration
        if revenue is not None and revenue.customer_id != self.customer_id:
            errors["revenue_system_configuration"] = (
                "This revenue system configuration belongs to another customer."
            )
        if self.parent_contract_id is not None:
            errors.update(self.hierarchy_errors())
        if errors:
            raise ValidationError(errors)

    def hierarchy_errors(self) -> dict[str, str]:
        """What is wrong with this contract's link to its parent: the parent must bill in the
        same currency, overlap it in time and not descend from it (no cycle)."""
        parent = self.parent_contract
        if parent.pk == self.pk:
            return {"parent_contract": "A contract cannot be its own parent."}
        seen = {self.pk}
        ancestor = parent
        while ancestor is not None:
            if ancestor.pk in seen:
                return {"parent_contract": "This parent descends from the contract (a cycle)."}
            seen.add(ancestor.pk)
            ancestor = ancestor.parent_contract
        if parent.archived_at is not None:
            return {"parent_contract": "The parent contract is archived."}
        if self.rate_card_id and parent.rate_card.fiat_credit_type_id != (
            self.rate_card.fiat_credit_type_id
        ):
            return {
                "parent_contract": "The parent contract bills in another currency "
                f"({parent.rate_card.fiat_credit_type.name})."
            }
        starts_before_parent_ends = (
            parent.ending_before is None or self.starting_at < parent.ending_before
        )
        ends_after_parent_starts = (
            self.ending_before is None or parent.starting_at < self.ending_before
        )
        if not (starts_before_parent_ends and ends_after_parent_starts):
            return {"parent_contract": "The parent contract's dates do not overlap this one's."}
        return self.consolidation_errors()

    def consolidation_errors(self) -> dict[str, str]:
        """What forbids this child's statements on its parent's consolidated invoice: only the
        parent pays for them (payer PARENT), a parent that generates no consolidated invoices
        (NONE) takes none, consolidation is one level (a parent consolidated into its own parent
        has no consolidated invoice), and the two schedules must have the same periods."""
        parent = self.parent_contract
        field = "hierarchy_usage_statement_behavior"
        if self.invoice_consolidation_type and (
            self.hierarchy_usage_statement_behavior == self.StatementBehavior.CONSOLIDATE
        ):
            return {
                "invoice_consolidation_type": "A contract whose statements are consolidated "
                "into its parent's invoice has no consolidated invoice of its own."
            }
        if self.hierarchy_usage_statement_behavior != self.StatementBehavior.CONSOLIDATE:
            return {}
        if self.hierarchy_payer != self.Payer.PARENT:
            return {
                field: "CONSOLIDATE needs payer PARENT: the parent pays for the statements "
                "consolidated on its invoice."
            }
        if parent.invoice_consolidation_type == self.Consolidation.NONE:
            return {
                field: "The parent generates no consolidated invoices "
                "(parent_behavior.invoice_consolidation_type NONE)."
            }
        if parent.hierarchy_usage_statement_behavior == self.StatementBehavior.CONSOLIDATE:
            return {
                field: "The parent's own statements are consolidated into its parent's "
                "invoice: consolidation is one level."
            }
        if not periods.aligned(periods.schedule_for(self), periods.schedule_for(parent)):
            return {
                field: "Its usage statement schedule must have the parent's periods "
                f"({parent.usage_statement_frequency}, {parent.usage_statement_day}) to be "
                "consolidated period by period."
            }
        return {}

    @property
    def consolidates(self) -> bool:
        """Its usage invoices go on its parent's consolidated invoices."""
        return (
            self.parent_contract_id is not None
            and self.hierarchy_usage_statement_behavior == self.StatementBehavior.CONSOLIDATE
        )

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


class ContractEdit(models.Model):
    """One change of a contract: a v2 edit (contracts/edit, commits/edit, credits/edit, a usage
    filter set), or a v1 amendment (terms added from `starting_at`). What it changed, by ids,
    and its uniqueness key; the edit history and the v1 `amendments` are read from these."""

    class Kind(models.TextChoices):
        EDIT = "EDIT", "Edit"
        AMENDMENT = "AMENDMENT", "Amendment"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="edits")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EDIT)
    starting_at = models.DateTimeField(
        null=True, blank=True, help_text="An amendment's start (when its terms take effect)."
    )
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


class ContractUsageFilter(models.Model):
    """Which usage belongs to the contract from `starting_at` (Metronome's usage filter): only
    events whose `group_key` property has one of `group_values`. Setting a new filter ends the
    one in effect then; a customer with several contracts routes its usage between them so."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="usage_filters")
    group_key = models.CharField(max_length=200)
    group_values = models.JSONField(default=list)
    starting_at = models.DateTimeField()
    ending_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starting_at"]
        verbose_name = "usage filter"
        constraints = [start_before_end("contractusagefilter")]

    def __str__(self) -> str:
        return f"{self.group_key} in {', '.join(self.group_values)}"

    def clean(self) -> None:
        errors = window_errors(self.starting_at, self.ending_before, hour_aligned=False)
        if not (self.group_key or "").strip():
            errors["group_key"] = "Give the group key to filter on."
        if not isinstance(self.group_values, list) or not all(
            isinstance(v, str) for v in self.group_values
        ):
            errors["group_values"] = "Give the group values as a list of strings."
        if errors:
            raise ValidationError(errors)

    def in_effect_at(self, moment) -> bool:
        return self.starting_at <= moment and (
            self.ending_before is None or moment < self.ending_before
        )


class ContractConfigurationChange(models.Model):
    """A contract's billing provider or revenue system configuration from `effective_at` on
    (until a later change of the same kind): a v2 edit's `add_billing_provider_configuration_update`
    or `add_revenue_system_configuration_update`. Before its first change, the contract uses the
    configuration it was made with (`Contract.billing_provider_configuration` /
    `revenue_system_configuration`). An invoice goes to the configuration in effect at the start
    of its period."""

    class Kind(models.TextChoices):
        BILLING_PROVIDER = "BILLING_PROVIDER", "Billing provider"
        REVENUE_SYSTEM = "REVENUE_SYSTEM", "Revenue system"

    class EffectiveAt(models.TextChoices):
        START_OF_CURRENT_PERIOD = "START_OF_CURRENT_PERIOD", "Start of the current period"
        START_OF_NEXT_PERIOD = "START_OF_NEXT_PERIOD", "Start of the next period"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="configuration_changes"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    effective_at = models.DateTimeField()
    billing_provider_configuration = models.ForeignKey(
        "customers.BillingProviderConfiguration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contract_changes",
    )
    revenue_system_configuration = models.ForeignKey(
        "customers.RevenueSystemConfiguration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contract_changes",
    )
    edit = models.ForeignKey(
        ContractEdit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="configuration_changes",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["effective_at", "created_at"]
        verbose_name = "contract configuration change"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="BILLING_PROVIDER",
                        billing_provider_configuration__isnull=False,
                        revenue_system_configuration__isnull=True,
                    )
                    | Q(
                        kind="REVENUE_SYSTEM",
                        revenue_system_configuration__isnull=False,
                        billing_provider_configuration__isnull=True,
                    )
                ),
                name="contractconfigchange_one_configuration",
                violation_error_message="A change names one configuration, of its kind.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.contract} from {self.effective_at:%Y-%m-%d}"

    @property
    def configuration(self):
        return self.billing_provider_configuration or self.revenue_system_configuration

    def clean(self) -> None:
        config = self.configuration
        if (
            config is not None
            and self.contract_id
            and config.customer_id != (self.contract.customer_id)
        ):
            field = (
                "billing_provider_configuration"
                if self.kind == self.Kind.BILLING_PROVIDER
                else "revenue_system_configuration"
            )
            raise ValidationError({field: "This configuration belongs to another customer."})
