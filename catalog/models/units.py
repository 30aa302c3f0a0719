"""Pricing units: fiat currencies and custom units."""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from .. import money
from .common import ArchivableQuerySet


class PricingUnit(models.Model):
    """A fiat currency or a custom unit ("credits"). `USD (cents)` is built in; its amounts are cents."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    is_currency = models.BooleanField(default=False)
    decimal_places = models.PositiveSmallIntegerField(
        default=2,
        help_text="Precision of the smallest amount: 0 for USD (cents), whose smallest amount is a cent.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(archived_at__isnull=True),
                name="pricingunit_unique_active_name",
                violation_error_message="An active pricing unit with this name already exists.",
            ),
            models.CheckConstraint(
                condition=Q(decimal_places__lte=12),
                name="pricingunit_decimal_places_lte_12",
                violation_error_message="A pricing unit has at most 12 decimal places.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def format(self, amount: Decimal | None) -> str:
        return money.format_money(amount, self.name)

    @classmethod
    def usd_cents(cls) -> "PricingUnit":
        return cls.objects.get(pk=money.USD_CENTS_ID)
