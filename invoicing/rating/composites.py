"""Composite lines (a LINE step): a percentage of the rounded totals of the lines it names,
flat or tiered by spend, with an optional minimum, over this contract's spend or the
customer's (Metronome's composite charges guide, docs.metronome.com
guides/pricing-packaging/billing-model-guides/composite-charges)."""

from __future__ import annotations

from decimal import Decimal

from catalog.money import ZERO

from .inputs import CustomerSpend, Period, Product, Rate, RatingInput
from .outputs import Line, LineTier
from .shared import line_fields, microseconds, money_of
from .usage import tier_pieces
from .vocabulary import CompositeScope, LineType, ProductType, RateType


def composite_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: per composite product, one charge per rate overlapping the period, over the lines
    that start inside that rate's window.

    - Spend: the ROUNDED totals of the invoice's fiat, non-composite charge lines whose product
      id or tags the composite names (a customer can check it against the lines printed above);
      with `composite_scope` CUSTOMER, also the customer's other contracts' charges of that time
      (`RatingInput.customer_spend`: "calculated across spend within the same customer and is
      billed to one contract").
    - PERCENTAGE: spend x price, one line. TIERED_PERCENTAGE: graduated over the period's spend
      ("customers receive more favorable rates ... the more that they spend"): one line per tier,
      its quantity the spend in that tier, its price the tier's fraction; a later rate of the
      period continues where the earlier one's spend stopped.
    - `composite_minimum`: "Metronome charges the greater of (a) the percentage-based composite
      amount and (b) the configured minimum": when the rate's lines total less, a line
      "<name> (minimum)" charges the difference, even with no spend at all. The minimum is per
      billing period, prorated (like a subscription, to the microsecond) when the rate's window
      covers only part of the schedule's period (a first or last period, a rate change).
    - No spend and no minimum: no line. Composite lines never count towards another composite.
    """
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
                and rate.rate_type in RateType.COMPOSITE
                and rate.entitled
                and rate.starting_at < period.ending_before
                and (rate.ending_before is None or rate.ending_before > period.starting_at)
            ),
            key=lambda rate: rate.starting_at,
        )
        position = ZERO
        for rate in rates:
            window = Period(
                max(rate.starting_at, period.starting_at),
                period.ending_before
                if rate.ending_before is None
                else min(rate.ending_before, period.ending_before),
            )
            spend = _spend(rating_input, product, rate, window, lines)
            charged = _charged(rating_input, product, rate, window, spend, position)
            position += spend
            minimum = _minimum(rating_input, product, rate, window, charged)
            new_lines.extend([*charged, *minimum])
    return (*lines, *new_lines)


def _spend(
    rating_input: RatingInput,
    composite: Product,
    rate: Rate,
    window: Period,
    lines: tuple[Line, ...],
) -> Decimal:
    own = sum(
        (
            line.total
            for line in lines
            if _in_composite(composite, line) and window.contains(line.starting_at)
        ),
        ZERO,
    )
    if rate.composite_scope != CompositeScope.CUSTOMER:
        return own
    return own + sum(
        (
            spend.total
            for spend in rating_input.customer_spend
            if _names(composite, spend) and window.contains(spend.starting_at)
        ),
        ZERO,
    )


def _charged(
    rating_input: RatingInput,
    product: Product,
    rate: Rate,
    window: Period,
    spend: Decimal,
    position: Decimal,
) -> list[Line]:
    if spend == 0:
        return []
    common = line_fields(product, window.starting_at, window.ending_before)
    if rate.rate_type == RateType.PERCENTAGE:
        return [
            Line(
                **common,
                quantity=spend,
                unit_price=rate.price,
                total=money_of(rating_input, spend * rate.price),
            )
        ]
    return [
        Line(
            **common,
            quantity=piece.quantity,
            unit_price=piece.price,
            total=money_of(rating_input, piece.quantity * piece.price),
            tier=LineTier(piece.level, piece.tier_starting_at, piece.tier_size),
        )
        for piece in tier_pieces(rate.tiers, position, spend)
    ]


def _minimum(
    rating_input: RatingInput,
    product: Product,
    rate: Rate,
    window: Period,
    charged: list[Line],
) -> list[Line]:
    if rate.composite_minimum is None:
        return []
    full = rating_input.proration_period
    prorated = window.starting_at > full.starting_at or window.ending_before < full.ending_before
    minimum = rate.composite_minimum
    if prorated:
        minimum = minimum * microseconds(window.length) / microseconds(full.length)
    short = money_of(rating_input, minimum) - sum((line.total for line in charged), ZERO)
    if short <= 0:
        return []
    return [
        Line(
            **{
                **line_fields(product, window.starting_at, window.ending_before),
                "name": f"{product.name} (minimum)",
            },
            quantity=Decimal(1),
            unit_price=short,
            total=short,
            is_prorated=prorated,
        )
    ]


def _in_composite(composite: Product, line: Line) -> bool:
    if (
        line.product_type == ProductType.COMPOSITE
        or line.type not in LineType.CHARGES
        or line.credit_type_id is not None
    ):
        return False
    return _names(composite, line)


def _names(composite: Product, item: Line | CustomerSpend) -> bool:
    return item.product_id in composite.composite_product_ids or bool(
        set(item.product_tags) & set(composite.composite_tags)
    )
