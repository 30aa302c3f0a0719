"""What rating gives: lines (with their tiers), balance draws, and the `RatingResult` totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .inputs import Period, PricingUnit
from .vocabulary import Checked, GroupValues


@dataclass(frozen=True)
class LineTier(Checked):
    """Metronome's `tier`: level (1-based), the tier's first position, its size (None: open)."""

    level: int
    starting_at: Decimal
    size: Decimal | None


@dataclass(frozen=True)
class Line(Checked):
    """One invoice line. `total` is rounded; `quantity x unit_price` is its unrounded amount,
    except for prorated subscriptions (full-period `unit_price`, the window in starting_at ..
    ending_before) and lines without a price."""

    name: str
    type: str
    product_id: str
    product_type: str
    total: Decimal
    starting_at: datetime
    ending_before: datetime | None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    product_tags: tuple[str, ...] = ()
    pricing_group_values: GroupValues = ()
    presentation_group_values: GroupValues = ()
    group_key: str | None = None
    group_value: str | None = None
    tier: LineTier | None = None
    is_prorated: bool = False
    is_unpriced: bool = False
    subscription_id: str | None = None
    scheduled_charge_id: str | None = None
    # A custom pricing unit (None: the invoice's unit; such lines stay out of the fiat totals).
    credit_type_id: str | None = None
    # The commit a line belongs to: a commit purchase or true-up, a usage line re-priced at a
    # commit's rate, or an application.
    commit_id: str | None = None
    commit_segment_id: str | None = None
    applied_commit_or_credit_id: str | None = None
    applied_commit_or_credit_type: str | None = None
    # On an application: what is left of the segment after this invoice's draws.
    balance_remaining: Decimal | None = None
    discount_id: str | None = None
    professional_service_id: str | None = None


@dataclass(frozen=True)
class BalanceDraw(Checked):
    """One access segment on this invoice: what it held at the start, what the invoice drew and
    what is left. `expires`: the segment ends by the period's end, so `remaining` is what the
    ledger records as expired once the invoice is final."""

    balance_id: str
    balance_type: str
    segment_id: str
    credit_type_id: str | None
    available: Decimal
    drawn: Decimal
    remaining: Decimal
    expires: bool


@dataclass(frozen=True)
class RatingResult(Checked):
    pricing_unit: PricingUnit
    period: Period
    lines: tuple[Line, ...]
    subtotal: Decimal
    total: Decimal
    balance_draws: tuple[BalanceDraw, ...] = ()
    # The custom units lines may be in (`Line.credit_type_id`), for showing their names.
    custom_units: tuple[PricingUnit, ...] = ()
