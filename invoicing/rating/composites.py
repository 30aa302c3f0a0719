"""Composite lines (a LINE step): a percentage of the rounded totals of the lines it names."""

from __future__ import annotations

from catalog.money import ZERO

from .inputs import Period, Product, RatingInput
from .outputs import Line
from .shared import money_of
from .vocabulary import LineType, ProductType, RateType


def composite_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: a percentage of the rounded spend on the named products or tags."""
    period = rating_input.period
    new_lines = []
    for product in rating_input.products:
        if product.type != ProductType.COMPOSITE:
            continue
        rates = sorted(
            (
                rate
                for rate in rating_input.rates
                if rate.product_id == product.id
                and rate.rate_type == RateType.PERCENTAGE
                and rate.entitled
                and rate.starting_at < period.ending_before
                and (rate.ending_before is None or rate.ending_before > period.starting_at)
            ),
            key=lambda rate: rate.starting_at,
        )
        for rate in rates:
            window = Period(
                max(rate.starting_at, period.starting_at),
                period.ending_before
                if rate.ending_before is None
                else min(rate.ending_before, period.ending_before),
            )
            base = sum(
                (
                    line.total
                    for line in lines
                    if _in_composite(product, line) and window.contains(line.starting_at)
                ),
                ZERO,
            )
            if base == 0:
                continue
            new_lines.append(
                Line(
                    name=product.name,
                    type=LineType.USAGE,
                    product_id=product.id,
                    product_type=product.type,
                    product_tags=product.tags,
                    starting_at=window.starting_at,
                    ending_before=window.ending_before,
                    quantity=base,
                    unit_price=rate.price,
                    total=money_of(rating_input, base * rate.price),
                )
            )
    return (*lines, *new_lines)


def _in_composite(composite: Product, line: Line) -> bool:
    if (
        line.product_type == ProductType.COMPOSITE
        or line.type not in LineType.CHARGES
        or line.credit_type_id is not None
    ):
        return False
    return line.product_id in composite.composite_product_ids or bool(
        set(line.product_tags) & set(composite.composite_tags)
    )
