"""A customer's accounts in billing providers (Metronome's customer billing provider
configurations): where its invoices are sent and paid."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .customer import Customer


class BillingProviderConfiguration(models.Model):
    """One customer's account in one billing provider: for Stripe, the Stripe customer (`cus_...`)
    its invoices are created for and how Stripe collects them. A contract points at one (or, with
    only a provider chosen, uses the customer's active one of that provider). Archived, never
    deleted: finalized invoices sent through it keep their history."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        AWS_MARKETPLACE = "aws_marketplace", "AWS Marketplace"
        AZURE_MARKETPLACE = "azure_marketplace", "Azure Marketplace"
        GCP_MARKETPLACE = "gcp_marketplace", "GCP Marketplace"
        NETSUITE = "netsuite", "NetSuite"
        CUSTOM = "custom", "Custom"
        QUICKBOOKS_ONLINE = "quickbooks_online", "QuickBooks Online"
        WORKDAY = "workday", "Workday"
        METRONOME = "metronome", "Metronome"

    class DeliveryMethod(models.TextChoices):
        DIRECT = "direct_to_billing_provider", "Direct to billing provider"
        AWS_SQS = "aws_sqs", "AWS SQS"
        TACKLE = "tackle", "Tackle"
        AWS_SNS = "aws_sns", "AWS SNS"

    class CollectionMethod(models.TextChoices):
        CHARGE_AUTOMATICALLY = "charge_automatically", "Charge automatically"
        SEND_INVOICE = "send_invoice", "Send invoice"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="billing_provider_configurations"
    )
    billing_provider = models.CharField(
        max_length=32, choices=Provider.choices, default=Provider.STRIPE
    )
    delivery_method = models.CharField(
        max_length=32, choices=DeliveryMethod.choices, default=DeliveryMethod.DIRECT
    )
    delivery_method_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The account's connection to the provider that delivers the invoices.",
    )
    billing_provider_customer_id = models.CharField(
        "customer id in the provider",
        max_length=255,
        help_text="For Stripe, the Stripe customer (cus_...).",
    )
    stripe_collection_method = models.CharField(
        max_length=32,
        choices=CollectionMethod.choices,
        blank=True,
        help_text="Empty: the Stripe connection's default.",
    )
    configuration = models.JSONField(
        default=dict, blank=True, help_text="Other provider-specific settings, as given."
    )
    tax_provider = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "billing_provider", "-created_at"]
        verbose_name = "billing provider configuration"
        constraints = [
            models.CheckConstraint(
                condition=~Q(billing_provider_customer_id=""),
                name="billingconfig_has_provider_customer",
                violation_error_message="The customer's id in the billing provider is required.",
            ),
            models.CheckConstraint(
                condition=Q(billing_provider="stripe") | Q(stripe_collection_method=""),
                name="billingconfig_collection_only_stripe",
                violation_error_message="A collection method is only for Stripe.",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "billing_provider"], name="billingconfig_customer"),
        ]

    def __str__(self) -> str:
        archived = " (archived)" if self.archived_at else ""
        return (
            f"{self.get_billing_provider_display()} {self.billing_provider_customer_id}{archived}"
        )

    def clean(self) -> None:
        customer_id = (self.billing_provider_customer_id or "").strip()
        if (
            self.billing_provider == self.Provider.STRIPE
            and customer_id
            and (not customer_id.startswith("cus_") or any(c.isspace() for c in customer_id))
        ):
            raise ValidationError(
                {"billing_provider_customer_id": "A Stripe customer id starts with cus_."}
            )


class RevenueSystemConfiguration(models.Model):
    """One customer's record in a revenue recognition system (Metronome's customer revenue system
    configuration; the SDK knows NetSuite). This product has no client for such a system: the
    configuration is stored, shown, named by contracts, and carried in the `invoice.finalized`
    event of their invoices so an integration can deliver the revenue itself. Archived, never
    deleted."""

    class Provider(models.TextChoices):
        NETSUITE = "netsuite", "NetSuite"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="revenue_system_configurations"
    )
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.NETSUITE)
    delivery_method = models.CharField(
        max_length=32,
        choices=BillingProviderConfiguration.DeliveryMethod.choices,
        default=BillingProviderConfiguration.DeliveryMethod.DIRECT,
    )
    delivery_method_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The account's connection to the revenue system, when given by id.",
    )
    configuration = models.JSONField(
        default=dict,
        blank=True,
        help_text="Provider-specific settings as given (for NetSuite, netsuite_customer_id).",
    )
    created_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "provider", "-created_at"]
        verbose_name = "revenue system configuration"
        indexes = [
            models.Index(fields=["customer", "provider"], name="revenueconfig_customer"),
        ]

    def __str__(self) -> str:
        archived = " (archived)" if self.archived_at else ""
        return f"{self.get_provider_display()} via {self.get_delivery_method_display()}{archived}"

    def clean(self) -> None:
        if not isinstance(self.configuration, dict):
            raise ValidationError({"configuration": "Must be an object."})
