"""Totals of a term's own rows, in its pricing unit."""

from catalog.admin.display import money_display, quantity_display


def balance_amount(term, amount) -> str:
    """An amount of a commit or credit as people read it: money in its pricing unit, or units
    for a QUANTITY balance (its access schedule and ledger hold units of usage)."""
    if term.access_type == term.AccessType.QUANTITY:
        return "—" if amount is None else f"{quantity_display(amount)} units"
    return money_display(amount, term.credit_type)


def balance_total(term) -> str:
    """The sum of a commit's or credit's access schedule, in its pricing unit (or units)."""
    if term.pk is None or term._state.adding:
        return "—"
    amounts = [segment.amount for segment in term.access_schedule.all()]
    return balance_amount(term, sum(amounts)) if amounts else "—"


def items_total(charge, unit) -> str:
    if charge.pk is None or charge._state.adding:
        return "—"
    totals = [item.total for item in charge.schedule_items.all() if item.total is not None]
    return money_display(sum(totals), unit) if totals else "—"
