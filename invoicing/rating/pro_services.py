"""Professional services (a LINE step of the scheduled items): each billing due in the period
is a `professional_service` charge, on the SCHEDULED invoice of its date (or the usage invoice
of a contract that puts scheduled items there)."""

from __future__ import annotations

from .inputs import RatingInput
from .outputs import Line
from .shared import money_of, product_type_of
from .vocabulary import LineType


def pro_service_lines(rating_input: RatingInput, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Step: the professional service billings due in [period start, period end), by date."""
    due = sorted(
        (p for p in rating_input.pro_services if rating_input.period.contains(p.timestamp)),
        key=lambda item: (item.timestamp, item.id),
    )
    new_lines = [
        Line(
            name=item.name or item.product_id,
            type=LineType.PROFESSIONAL_SERVICE,
            product_id=item.product_id,
            product_type=product_type_of(rating_input, item.product_id),
            starting_at=item.timestamp,
            ending_before=None,
            quantity=item.quantity,
            unit_price=item.unit_price,
            total=money_of(rating_input, item.quantity * item.unit_price),
            professional_service_id=item.id,
        )
        for item in due
    ]
    return (*lines, *new_lines)
