"""A contract's spend trackers on its admin page, read-only (they are made and archived over the
API, `spend_trackers` and the v2 edit): what each counts, in words, and what it has
accumulated in the current billing period."""

from __future__ import annotations

from datetime import datetime

from django.utils.html import format_html, format_html_join

from catalog.admin.display import money_display

from ..models import Contract, SpendTracker
from ..selectors import spend_trackers_accumulated

_SOURCES = {"THRESHOLD_RECHARGE": "threshold purchases", "MANUAL": "commits given by hand"}
_DISCOUNTED = {
    "ANY": "",
    "DISCOUNTED_ONLY": "discounted ",
    "UNDISCOUNTED_ONLY": "full-price ",
}


def counts_in_words(tracker: SpendTracker) -> str:
    """`discounted threshold purchases and commits given by hand` for its specifiers."""
    return "; ".join(
        _DISCOUNTED[specifier.get("discounted") or "ANY"]
        + " and ".join(_SOURCES[source] for source in specifier.get("sources") or ())
        for specifier in tracker.applicable_spend_specifiers
    )


def spend_trackers_panel(contract: Contract, *, now: datetime) -> str:
    """A table of the contract's live trackers and their spend this billing period."""
    trackers = list(
        contract.spend_trackers.filter(archived_at__isnull=True).select_related("credit_type")
    )
    if not trackers:
        return "This contract has no spend trackers."
    held = spend_trackers_accumulated(contract=contract, trackers=trackers, now=now)
    rows = []
    for tracker in trackers:
        amount, period = held[tracker.pk]
        shown = "—"
        if period is not None:
            shown = (
                f"{money_display(amount, tracker.credit_type)} "
                f"({period.starting_at:%Y-%m-%d} to {period.ending_before:%Y-%m-%d})"
            )
        rows.append((tracker.alias, tracker.credit_type.name, counts_in_words(tracker), shown))
    return format_html(
        "<table><thead><tr><th>Alias</th><th>Pricing unit</th><th>Counts</th>"
        "<th>This billing period</th></tr></thead><tbody>{}</tbody></table>",
        format_html_join(
            "",
            '<tr><td data-label="Alias">{}</td><td data-label="Pricing unit">{}</td>'
            '<td data-label="Counts">{}</td><td data-label="This billing period">{}</td></tr>',
            rows,
        ),
    )
