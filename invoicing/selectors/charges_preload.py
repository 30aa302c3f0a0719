"""Discounts, professional services and subscription quantities of a batch of contracts, loaded
for `RatingPreload` in three queries and cut per invoice window into the engine's dataclasses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from customers.models import DiscountItem, ProServiceItem, SubscriptionQuantity
from invoicing.rating import Discount, Period, Subscription
from invoicing.rating import ProServiceItem as ProServiceLine


class ChargesPreload:
    """What `RatingPreload` adds per window: discount items, pro service billings, and each
    subscription split into windows of constant quantity."""

    def __init__(
        self,
        contract_ids: Iterable,
        start: datetime,
        end: datetime,
        subscriptions,
        *,
        discounts: bool = True,
        pro_services: bool = True,
    ):
        """`discounts` / `pro_services` False: no contract has any (nothing to read)."""
        contract_ids = list(contract_ids)
        self._discounts: dict = {}
        discount_items = DiscountItem.objects.filter(
            discount__contract_id__in=contract_ids,
            discount__archived_at__isnull=True,
            timestamp__gte=start,
            timestamp__lt=end,
        )
        for item in (
            discount_items.select_related("discount__product").order_by("timestamp", "id")
            if discounts
            else ()
        ):
            self._discounts.setdefault(item.discount.contract_id, []).append(item)
        self._pro_services: dict = {}
        pro_service_items = ProServiceItem.objects.filter(
            professional_service__contract_id__in=contract_ids,
            professional_service__archived_at__isnull=True,
            timestamp__gte=start,
            timestamp__lt=end,
        )
        for item in (
            pro_service_items.select_related("professional_service__product").order_by(
                "timestamp", "id"
            )
            if pro_services
            else ()
        ):
            self._pro_services.setdefault(item.professional_service.contract_id, []).append(item)
        self._quantities: dict = {}
        for row in SubscriptionQuantity.objects.filter(
            subscription_id__in=[s.pk for s in subscriptions]
        ).order_by("subscription_id", "starting_at"):
            self._quantities.setdefault(row.subscription_id, []).append(row)

    def products(self, contract_id, window: Period) -> list:
        """The product models of the window's discount and pro service items."""
        found = [
            item.discount.product
            for item in self._discounts.get(contract_id, [])
            if window.contains(item.timestamp)
        ]
        found += [
            item.professional_service.product
            for item in self._pro_services.get(contract_id, [])
            if window.contains(item.timestamp)
        ]
        return found

    def discounts(self, contract_id, window: Period) -> tuple[Discount, ...]:
        return tuple(
            Discount(
                id=str(item.discount_id),
                product_id=str(item.discount.product_id),
                timestamp=item.timestamp,
                unit_price=item.amount if item.amount is not None else item.unit_price,
                quantity=Decimal(1) if item.amount is not None else item.quantity,
                name=item.discount.name or None,
            )
            for item in self._discounts.get(contract_id, [])
            if window.contains(item.timestamp)
        )

    def pro_services(self, contract_id, window: Period) -> tuple[ProServiceLine, ...]:
        return tuple(
            ProServiceLine(
                id=str(item.professional_service_id),
                product_id=str(item.professional_service.product_id),
                timestamp=item.timestamp,
                unit_price=item.unit_price,
                quantity=item.quantity,
                name=item.professional_service.description
                or item.professional_service.product.name,
            )
            for item in self._pro_services.get(contract_id, [])
            if window.contains(item.timestamp)
        )

    def subscriptions(self, models, window: Period) -> tuple[Subscription, ...]:
        """Each subscription as the engine rates it in `window`. A prorated one is one record
        per quantity in effect (each prorated over its own part); one that is not prorated is
        one record at the quantity in effect when it is collected (ADVANCE: the window's start,
        ARREARS: its last instant)."""
        records = []
        for model in models:
            rows = self._quantities.get(model.pk) or []
            common = {
                "id": str(model.id),
                "product_id": str(model.product_id),
                "collection_schedule": model.collection_schedule,
                "is_prorated": model.is_prorated,
                "billing_frequency": model.billing_frequency or None,
                "name": model.name or None,
            }
            if not rows:
                records.append(
                    Subscription(
                        **common,
                        quantity=model.initial_quantity,
                        starting_at=model.starting_at,
                        ending_before=model.ending_before,
                    )
                )
                continue
            if not model.is_prorated:
                moment = (
                    max(window.starting_at, model.starting_at)
                    if model.collection_schedule == "ADVANCE"
                    else window.ending_before - timedelta(microseconds=1)
                )
                current = [row for row in rows if row.starting_at <= moment]
                quantity = current[-1].quantity if current else rows[0].quantity
                records.append(
                    Subscription(
                        **common,
                        quantity=quantity,
                        starting_at=model.starting_at,
                        ending_before=model.ending_before,
                    )
                )
                continue
            for index, row in enumerate(rows):
                end = rows[index + 1].starting_at if index + 1 < len(rows) else model.ending_before
                if model.ending_before is not None and end is not None:
                    end = min(end, model.ending_before)
                if end is not None and (end <= window.starting_at or end <= row.starting_at):
                    continue
                if row.starting_at >= window.ending_before:
                    continue
                records.append(
                    Subscription(
                        **common,
                        quantity=row.quantity,
                        starting_at=max(row.starting_at, model.starting_at),
                        ending_before=end,
                    )
                )
        return tuple(records)
