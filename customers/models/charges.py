"""Discounts and professional services: contract terms that are neither usage nor balances."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.models import MONEY, Product

from .contracts import Contract
from .terms import ScheduleItem


class Discount(models.Model):
    """Money off the contract's invoices on given dates: each schedule item takes its amount off
    the USAGE invoice of the billing period holding its date, never below zero."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="discounts")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", limit_choices_to={"type": "FIXED"}
    )
    name = models.CharField(max_length=200, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or str(self.product)

    def clean(self) -> None:
        if self.product_id and self.product.type != Product.Type.FIXED:
            raise ValidationError({"product": "Discounts use a fixed product."})


class DiscountItem(ScheduleItem):
    """One date of a discount, with its amount (or unit price x quantity)."""

    discount = models.ForeignKey(Discount, on_delete=models.CASCADE, related_name="schedule_items")

    class Meta(ScheduleItem.Meta):
        pass


class ProfessionalService(models.Model):
    """A professional service sold on the contract (onboarding, training): up to `max_amount`,
    billed as it is delivered (scheduleProServicesInvoice), each billing on the invoice of its
    date."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, related_name="professional_services"
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"type": "PRO_SERVICE"},
    )
    unit_price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY)
    max_amount = models.DecimalField(**MONEY)
    description = models.TextField(blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_amount__gte=0) & Q(unit_price__gte=0) & Q(quantity__gte=0),
                name="professionalservice_not_negative",
                violation_error_message="Amounts, prices and quantities cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.description or str(self.product)

    def clean(self) -> None:
        if self.product_id and self.product.type != Product.Type.PRO_SERVICE:
            raise ValidationError({"product": "Professional services use a PRO_SERVICE product."})


class ProServiceItem(models.Model):
    """One billing of a professional service: `quantity x unit_price` on the invoice dated
    `timestamp` (a SCHEDULED invoice of that date)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    professional_service = models.ForeignKey(
        ProfessionalService, on_delete=models.CASCADE, related_name="items"
    )
    timestamp = models.DateTimeField()
    unit_price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY, default=1)
    metadata = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(quantity__gt=0),
                name="proserviceitem_positive",
                violation_error_message="Give a positive quantity and a price of 0 or more.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d}: {self.quantity} x {self.unit_price}"

    @property
    def total(self):
        return self.unit_price * self.quantity
