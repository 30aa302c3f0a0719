"""The account's connections to billing providers, each finalized invoice's payment status in its
provider, every hand-off attempt, and the provider events received."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from invoicing.models import Invoice

from .crypto import EncryptedTextField, mask


class BillingProviderConnection(models.Model):
    """The account's connection to a billing provider (Metronome's delivery method): for Stripe,
    the secret API key, the webhook signing secret, the default collection method and how long
    after finalization invoices are handed off. Secrets are stored encrypted and shown masked;
    `STRIPE_SECRET_KEY` / `STRIPE_WEBHOOK_SECRET` in the environment fill what is left empty."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"

    class CollectionMethod(models.TextChoices):
        CHARGE_AUTOMATICALLY = "charge_automatically", "Charge automatically"
        SEND_INVOICE = "send_invoice", "Send invoice"

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        help_text="The delivery_method_id of the customers' configurations that use it.",
    )
    billing_provider = models.CharField(
        max_length=32, choices=Provider.choices, default=Provider.STRIPE, unique=True
    )
    delivery_method = models.CharField(max_length=32, default="direct_to_billing_provider")
    secret_key = EncryptedTextField(blank=True, help_text="Stored encrypted; shown masked.")
    webhook_secret = EncryptedTextField(
        "webhook signing secret", blank=True, help_text="whsec_...; stored encrypted."
    )
    default_collection_method = models.CharField(
        max_length=32,
        choices=CollectionMethod.choices,
        default=CollectionMethod.CHARGE_AUTOMATICALLY,
    )
    handoff_delay_minutes = models.PositiveIntegerField(
        default=60, help_text="How long after finalization an invoice is sent (at most a day)."
    )
    enabled = models.BooleanField(default=True, help_text="Off: nothing is sent.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "billing provider"
        constraints = [
            models.CheckConstraint(
                condition=Q(handoff_delay_minutes__lte=1440),
                name="connection_handoff_delay_lte_day",
                violation_error_message="The hand-off delay is at most 1,440 minutes (a day).",
            ),
        ]

    def __str__(self) -> str:
        return self.get_billing_provider_display()

    def clean(self) -> None:
        if self.secret_key and not self.secret_key.startswith(("sk_", "rk_")):
            raise ValidationError(
                {"secret_key": "A Stripe secret key starts with sk_ (or rk_ for a restricted key)."}
            )
        if self.webhook_secret and not self.webhook_secret.startswith("whsec_"):
            raise ValidationError(
                {"webhook_secret": "A webhook signing secret starts with whsec_."}
            )

    @property
    def secret_key_hint(self) -> str:
        return mask(self.secret_key)

    @property
    def webhook_secret_hint(self) -> str:
        return mask(self.webhook_secret)


class InvoicePayment(models.Model):
    """A finalized invoice's life in its billing provider: queued for hand-off, sent (with the
    provider's invoice id), then paid, failed, voided or marked uncollectible from the provider's
    webhooks. Separate from the invoice's own status (DRAFT, FINALIZED, VOID). A failed hand-off
    keeps its error and is retried with backoff (`next_attempt_at`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        VOIDED = "voided", "Voided"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    invoice = models.OneToOneField(
        Invoice, on_delete=models.CASCADE, primary_key=True, related_name="payment"
    )
    billing_provider = models.CharField(max_length=32, default="stripe")
    billing_provider_configuration_id = models.UUIDField(null=True, blank=True)
    provider_customer_id = models.CharField(max_length=255, blank=True)
    collection_method = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    status_changed_at = models.DateTimeField()
    external_id = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The provider's invoice id (in_...)."
    )
    external_finalized = models.BooleanField(
        default=False, help_text="The provider's invoice is finalized (not a draft)."
    )
    external_payment_id = models.CharField(max_length=255, blank=True)
    invoiced_total = models.BigIntegerField(
        null=True, blank=True, help_text="In the currency's smallest unit, as the provider says."
    )
    currency = models.CharField(max_length=3, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    pdf_url = models.URLField(max_length=1000, blank=True)
    send_after = models.DateTimeField(help_text="Finalization plus the hand-off delay.")
    sent_at = models.DateTimeField(null=True, blank=True)
    void_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Our invoice was voided: the provider's is to be voided."
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is calling the provider until then."
    )
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider's latest applied event happened."
    )
    payment_gate_id = models.UUIDField(
        null=True,
        blank=True,
        db_index=True,
        help_text="A gated threshold commit's invoice: its payment releases or voids the commit.",
    )
    gate_payment_type = models.CharField(
        max_length=16,
        blank=True,
        help_text="INVOICE (a Stripe invoice, charged automatically) or PAYMENT_INTENT (a "
        "PaymentIntent on the customer's default payment method; external_id is its pi_ id).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "invoice payment"
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | ~Q(external_id=""),
                name="payment_sent_has_external_id",
                violation_error_message="A sent invoice has the provider's invoice id.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "send_after"], name="payment_due"),
            models.Index(
                fields=["void_requested_at"],
                name="payment_void_due",
                condition=Q(void_requested_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.billing_provider} {self.get_status_display()}"

    def clean(self) -> None:
        if self.status == self.Status.SENT and not self.external_id:
            raise ValidationError({"external_id": "A sent invoice has the provider's invoice id."})


class HandoffAttempt(models.Model):
    """One attempt to send (or void) an invoice in its billing provider: when, how many provider
    calls it made, and the error if it failed."""

    class Action(models.TextChoices):
        SEND = "send", "Send"
        VOID = "void", "Void"

    id = models.BigAutoField(primary_key=True)
    payment = models.ForeignKey(
        InvoicePayment, on_delete=models.CASCADE, related_name="attempts_log"
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    provider_calls = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else "failed"
        return f"{self.get_action_display()} {self.started_at:%Y-%m-%d %H:%M} {outcome}"


class ProviderEvent(models.Model):
    """A webhook event received from a billing provider, kept so a replay is acknowledged and
    ignored, and so staff can see what moved a payment status."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"

    id = models.CharField(max_length=255, primary_key=True, help_text="The provider's event id.")
    billing_provider = models.CharField(max_length=32, default="stripe")
    type = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    external_invoice_id = models.CharField(max_length=255, blank=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
