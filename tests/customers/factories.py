"""Factories for every customers model (contract terms included)."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from customers.models import (
    AccessSegment,
    BalanceLedgerEntry,
    BillingProviderConfiguration,
    Commit,
    CommitInvoiceItem,
    Contract,
    ContractConfigurationChange,
    ContractEdit,
    ContractTransition,
    ContractUsageFilter,
    Credit,
    Customer,
    Discount,
    DiscountItem,
    IngestAlias,
    NamedScheduleSegment,
    Override,
    OverrideTier,
    PaymentGate,
    ProfessionalService,
    ProServiceItem,
    RecurringBalance,
    ResellerRoyalty,
    RevenueSystemConfiguration,
    ScheduledCharge,
    ScheduledChargeItem,
    SpendTracker,
    Subscription,
    SubscriptionQuantity,
)
from tests.catalog.factories import ProductFactory, RateCardFactory, usd_cents

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class BillingProviderConfigurationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingProviderConfiguration

    customer = factory.SubFactory(CustomerFactory)
    billing_provider = "stripe"
    billing_provider_customer_id = factory.Sequence(lambda n: f"cus_Factory{n}")


class RevenueSystemConfigurationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RevenueSystemConfiguration

    customer = factory.SubFactory(CustomerFactory)
    provider = "netsuite"
    configuration = factory.Sequence(lambda n: {"netsuite_customer_id": f"NS-{n}"})
    created_at = START


class IngestAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestAlias

    customer = factory.SubFactory(CustomerFactory)
    alias = factory.Sequence(lambda n: f"alias-{n}")


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    rate_card = factory.SubFactory(RateCardFactory)
    starting_at = START


class ContractTransitionFactory(factory.django.DjangoModelFactory):
    """A 2027 renewal of a 2026 contract of the same customer (nothing rolled over)."""

    class Meta:
        model = ContractTransition

    type = ContractTransition.Type.RENEWAL
    from_contract = factory.SubFactory(ContractFactory, ending_before=END)
    to_contract = factory.SubFactory(
        ContractFactory,
        customer=factory.SelfAttribute("..from_contract.customer"),
        rate_card=factory.SelfAttribute("..from_contract.rate_card"),
        starting_at=END,
    )


class _BalanceTermFactory(factory.django.DjangoModelFactory):
    contract = factory.SubFactory(ContractFactory)
    customer = factory.LazyAttribute(
        lambda o: o.contract.customer if o.contract else CustomerFactory()
    )
    product = factory.SubFactory(ProductFactory, fixed=True)
    name = factory.Sequence(lambda n: f"Balance {n}")
    credit_type = factory.LazyFunction(usd_cents)


class CommitFactory(_BalanceTermFactory):
    class Meta:
        model = Commit

    type = Commit.Type.PREPAID


class CreditFactory(_BalanceTermFactory):
    class Meta:
        model = Credit


class AccessSegmentFactory(factory.django.DjangoModelFactory):
    """$100.00 usable over 2026 by a commit (pass credit=..., commit=None for a credit)."""

    class Meta:
        model = AccessSegment

    commit = factory.SubFactory(CommitFactory)
    credit = None
    amount = Decimal("10000")
    starting_at = START
    ending_before = END


class PaymentGateFactory(factory.django.DjangoModelFactory):
    """A pending EXTERNAL gate of a spend threshold purchase of $100.00 (its commit has no
    access segment: it holds nothing until released)."""

    class Meta:
        model = PaymentGate

    commit = factory.SubFactory(CommitFactory, threshold_kind="SPEND")
    contract = factory.LazyAttribute(lambda o: o.commit.contract)
    customer = factory.LazyAttribute(lambda o: o.commit.customer)
    threshold_kind = "SPEND"
    gate_type = PaymentGate.GateType.EXTERNAL
    amount = Decimal("10000")
    access_starting_at = START
    access_ending_before = END
    created_at = START


class CommitInvoiceItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommitInvoiceItem

    commit = factory.SubFactory(CommitFactory)
    timestamp = START
    amount = Decimal("10000")


class OverrideFactory(factory.django.DjangoModelFactory):
    """A 10% discount (multiplier 0.9) on every product tagged `tokens`."""

    class Meta:
        model = Override

    contract = factory.SubFactory(ContractFactory)
    type = Override.Type.MULTIPLIER
    multiplier = Decimal("0.9")
    applicable_product_tags = factory.LazyFunction(lambda: ["tokens"])
    starting_at = START


class OverrideTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OverrideTier

    override = factory.SubFactory(OverrideFactory, type=Override.Type.TIERED, multiplier=None)
    level = 1
    size = None
    multiplier = Decimal("0.8")


class ScheduledChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledCharge

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory, fixed=True)
    name = factory.Sequence(lambda n: f"Charge {n}")


class ScheduledChargeItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledChargeItem

    scheduled_charge = factory.SubFactory(ScheduledChargeFactory)
    timestamp = START
    amount = Decimal("50000")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory, subscription=True)
    starting_at = START


class ContractEditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractEdit

    contract = factory.SubFactory(ContractFactory)
    changes = factory.LazyFunction(lambda: {"add_commits": [], "archive_commits": []})


class BalanceLedgerEntryFactory(factory.django.DjangoModelFactory):
    """A $10.00 manual top-up of a commit's segment."""

    class Meta:
        model = BalanceLedgerEntry

    segment = factory.SubFactory(AccessSegmentFactory)
    commit = factory.LazyAttribute(lambda o: o.segment.commit)
    type = BalanceLedgerEntry.Type.PREPAID_COMMIT_MANUAL
    amount = Decimal("1000")
    timestamp = START
    reason = "Goodwill"


class NamedScheduleSegmentFactory(factory.django.DjangoModelFactory):
    """A customer's named schedule with one open-ended segment."""

    class Meta:
        model = NamedScheduleSegment

    customer = factory.SubFactory(CustomerFactory)
    name = "tier"
    starting_at = START
    value = "gold"


class ContractUsageFilterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractUsageFilter

    contract = factory.SubFactory(ContractFactory)
    group_key = "project"
    group_values = factory.LazyFunction(lambda: ["alpha"])
    starting_at = START


class ResellerRoyaltyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResellerRoyalty

    contract = factory.SubFactory(ContractFactory)
    reseller_type = ResellerRoyalty.ResellerType.AWS
    fraction = Decimal("0.2")
    netsuite_reseller_id = "nsr-1"
    starting_at = START
    applicable_product_tags = factory.LazyFunction(lambda: ["compute"])


class SpendTrackerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpendTracker

    contract = factory.SubFactory(ContractFactory)
    alias = factory.Sequence(lambda n: f"tracker-{n}")
    credit_type = factory.LazyFunction(usd_cents)
    applicable_spend_specifiers = factory.LazyFunction(
        lambda: [{"sources": ["THRESHOLD_RECHARGE"], "discounted": "ANY"}]
    )
    created_at = START


class DiscountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discount

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory, fixed=True)
    name = "Launch discount"


class DiscountItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DiscountItem

    discount = factory.SubFactory(DiscountFactory)
    timestamp = START
    amount = Decimal("500")


class ProfessionalServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfessionalService

    contract = factory.SubFactory(ContractFactory)
    product = factory.SubFactory(ProductFactory, type="PRO_SERVICE", billable_metric=None)
    unit_price = Decimal("15000")
    quantity = Decimal("2")
    max_amount = Decimal("30000")


class ProServiceItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProServiceItem

    professional_service = factory.SubFactory(ProfessionalServiceFactory)
    timestamp = START
    unit_price = Decimal("15000")


class RecurringBalanceFactory(factory.django.DjangoModelFactory):
    """A monthly recurring credit of 1,000 from the contract's start."""

    class Meta:
        model = RecurringBalance

    contract = factory.SubFactory(ContractFactory)
    kind = "CREDIT"
    product = factory.SubFactory(ProductFactory, fixed=True)
    access_unit_price = Decimal("1000")
    access_quantity = Decimal("1")
    starting_at = START


class SubscriptionQuantityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubscriptionQuantity

    subscription = factory.SubFactory(SubscriptionFactory)
    starting_at = START
    quantity = Decimal("3")


class ContractConfigurationChangeFactory(factory.django.DjangoModelFactory):
    """A revenue system change of a contract, from a month after its start."""

    class Meta:
        model = ContractConfigurationChange

    contract = factory.SubFactory(ContractFactory)
    kind = ContractConfigurationChange.Kind.REVENUE_SYSTEM
    effective_at = datetime(2026, 2, 1, tzinfo=UTC)
    revenue_system_configuration = factory.SubFactory(
        RevenueSystemConfigurationFactory, customer=factory.SelfAttribute("..contract.customer")
    )
    created_at = START
