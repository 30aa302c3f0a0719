"""Totals of a term's own rows, in its pricing unit."""

from catalog.admin.display import money_display


def balance_total(term) -> str:
    """The sum of a commit's or credit's access schedule, in its pricing unit."""
    if term.pk is None or term._state.adding:
        return "—"
    amounts = [segment.amount for segment in term.access_schedule.all()]
    return money_display(sum(amounts), term.credit_type) if amounts else "—"


def items_total(charge, unit) -> str:
    if charge.pk is None or charge._state.adding:
        return "—"
    totals = [item.total for item in charge.schedule_items.all() if item.total is not None]
    return money_display(sum(totals), unit) if totals else "—"
