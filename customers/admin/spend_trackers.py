"""A contract's spend trackers on its admin page, read-only (they are made and archived over the
API, `spend_trackers` and the v2 edit): what each counts, in words, and what it has
accumulated in the current billing period."""

from django.contrib import admin
from django.utils import timezone

from catalog.admin.display import money_display

from ..models import SpendTracker
from ..selectors import spend_tracker_accumulated

_SOURCES = {"THRESHOLD_RECHARGE": "threshold purchases", "MANUAL": "commits given by hand"}
_DISCOUNTED = {
    "ANY": "",
    "DISCOUNTED_ONLY": "discounted ",
    "UNDISCOUNTED_ONLY": "full-price ",
}


def counts_in_words(tracker: SpendTracker) -> str:
    """`discounted threshold purchases; commits given by hand` for its specifiers."""
    return "; ".join(
        _DISCOUNTED[specifier.get("discounted") or "ANY"]
        + " and ".join(_SOURCES[source] for source in specifier.get("sources") or ())
        for specifier in tracker.applicable_spend_specifiers
    )


class SpendTrackerInline(admin.TabularInline):
    model = SpendTracker
    extra = 0
    can_delete = False
    fields = ["alias", "credit_type", "counts", "accumulated", "archived_at"]
    readonly_fields = fields
    verbose_name_plural = "spend trackers (from the API; reset each billing period)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("credit_type", "contract")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="counts")
    def counts(self, obj: SpendTracker) -> str:
        return counts_in_words(obj)

    @admin.display(description="this billing period")
    def accumulated(self, obj: SpendTracker) -> str:
        if obj.archived_at is not None:
            return "—"
        amount, period = spend_tracker_accumulated(tracker=obj, now=timezone.now())
        if period is None:
            return "—"
        return (
            f"{money_display(amount, obj.credit_type)} "
            f"({period.starting_at:%Y-%m-%d} to {period.ending_before:%Y-%m-%d})"
        )
