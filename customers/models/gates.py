"""Payment gates: a commit (bought by threshold billing, or added by hand) whose balance waits on
its payment."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from catalog.models import MONEY

from .balances import Commit
from .contracts import Contract
from .customer import Customer


class PaymentGate(models.Model):
    """The payment a gated threshold commit waits on (Metronome's payment gate workflow; its id
    is the `workflow_id` of the `payment_gate.*` webhooks and of the release endpoint).

    While PENDING the commit is invoiced but holds nothing: its access segment (`amount` over
    [access_starting_at, access_ending_before)) is only written when the payment succeeds
    (PAID), so no draw, balance or alert can count it before. FAILED (the payment failed or the
    integrator cancelled it): the commit is archived and its invoice voided. One pending gate per
    contract and threshold kind: the threshold does not buy again while one waits. A commit
    added by hand with a payment_gate_config (threshold kind MANUAL) is gated the same way; a
    contract may have several of those pending."""

    class GateType(models.TextChoices):
        STRIPE = "STRIPE", "Stripe"
        EXTERNAL = "EXTERNAL", "External"

    class PaymentType(models.TextChoices):
        INVOICE = "INVOICE", "Stripe invoice"
        PAYMENT_INTENT = "PAYMENT_INTENT", "Stripe PaymentIntent"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending payment"
        PAID = "PAID", "Paid (released)"
        FAILED = "FAILED", "Failed or cancelled (voided)"

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name="workflow id"
    )
    commit = models.OneToOneField(Commit, on_delete=models.CASCADE, related_name="payment_gate")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="payment_gates")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    threshold_kind = models.CharField(
        max_length=16,
        help_text="PREPAID_BALANCE (auto-recharge), SPEND, or MANUAL (a commit added by hand "
        "with a payment_gate_config).",
    )
    gate_type = models.CharField(max_length=8, choices=GateType.choices)
    payment_type = models.CharField(
        max_length=16, choices=PaymentType.choices, blank=True, help_text="Stripe gates only."
    )
    invoice_metadata = models.JSONField(default=dict, blank=True)
    tax_type = models.CharField(max_length=16, default="NONE")
    precalculated_tax = models.JSONField(null=True, blank=True)
    amount = models.DecimalField(**MONEY)
    access_starting_at = models.DateTimeField()
    access_ending_before = models.DateTimeField()
    invoice_id = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="The commit's own invoice."
    )
    charged_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="What the payment is for: the total of the commit's invoice (after a discount "
        "and its cap, with a PRECALCULATED tax), in the invoice's pricing unit.",
    )
    charged_credit_type_id = models.UUIDField(
        null=True, blank=True, help_text="The pricing unit of the charged amount."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(
        max_length=200, blank=True, help_text="stripe, the API, or the staff member."
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("settle_paymentgate", "Can release or cancel an external payment gate by hand")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "threshold_kind"],
                condition=Q(status="PENDING") & ~Q(threshold_kind="MANUAL"),
                name="paymentgate_one_pending_per_kind",
                violation_error_message="A gated purchase of this threshold already waits.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="paymentgate_amount_positive",
                violation_error_message="A gated purchase is of a positive amount.",
            ),
            models.CheckConstraint(
                condition=Q(access_ending_before__gt=F("access_starting_at")),
                name="paymentgate_access_start_before_end",
                violation_error_message="The access end must be after its start.",
            ),
            models.CheckConstraint(
                condition=Q(status="PENDING", resolved_at__isnull=True)
                | (~Q(status="PENDING") & Q(resolved_at__isnull=False)),
                name="paymentgate_resolved_when_decided",
                violation_error_message="A decided gate has its time; a pending one has none.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_gate_type_display()} gate {self.pk} ({self.get_status_display()})"

    def clean(self) -> None:
        errors = {}
        if self.gate_type == self.GateType.STRIPE and not self.payment_type:
            errors["payment_type"] = "A Stripe gate pays by INVOICE or PAYMENT_INTENT."
        if self.gate_type == self.GateType.EXTERNAL and self.payment_type:
            errors["payment_type"] = "Only a Stripe gate has a payment type."
        if self.amount is not None and self.amount <= 0:
            errors["amount"] = "A gated purchase is of a positive amount."
        if errors:
            raise ValidationError(errors)
