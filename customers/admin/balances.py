"""Commits and credits on their own pages (customer-level balances have no contract)."""

from django.contrib import admin
from django.utils import timezone

from catalog.admin.display import money_display, quantity_display
from core.admin_forms import (
    DECIMAL_OVERRIDES,
    ArchivedListFilter,
    HiddenFromIndexMixin,
    ReadOnlyNamesMixin,
)

from ..form_editors import RECURRING_HIDDEN_FROM_READERS
from ..forms import (
    AccessRowsFormSet,
    AccessSegmentForm,
    CommitPageForm,
    CreditPageForm,
    MoneyRowsInlineFormSet,
    ScheduleItemForm,
)
from ..models import (
    AccessSegment,
    Commit,
    CommitInvoiceItem,
    Credit,
)
from ..services import balance_drafts_refresh
from .totals import balance_amount, balance_total

# ---------------------------------------------------------------------------------------------
# Commits and credits on their own pages (customer-level balances have no contract)


class AccessSegmentInline(ReadOnlyNamesMixin, admin.TabularInline):
    model = AccessSegment
    form = AccessSegmentForm
    formset = AccessRowsFormSet
    fk_name = "commit"
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["amount", "starting_at", "ending_before", "seats_shown"]
    readonly_fields = ["amount_display", "seats_shown"]
    read_only_shown_as = {"amount": "amount_display"}
    verbose_name_plural = "access schedule"

    @admin.display(description="amount")
    def amount_display(self, segment) -> str:
        return balance_amount(segment.commit or segment.credit, segment.amount)

    @admin.display(description="seats")
    def seats_shown(self, segment) -> str:
        """The seats a recurring term with a subscription granted it for (an increase adds a
        segment of its own)."""
        return quantity_display(segment.seats)


class CreditAccessSegmentInline(AccessSegmentInline):
    fk_name = "credit"


class CommitInvoiceItemInline(ReadOnlyNamesMixin, admin.TabularInline):
    model = CommitInvoiceItem
    form = ScheduleItemForm
    formset = MoneyRowsInlineFormSet
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["timestamp", "amount", "unit_price", "quantity"]
    readonly_fields = ["amount_display", "unit_price_display", "quantity_shown"]
    read_only_shown_as = {
        "amount": "amount_display",
        "unit_price": "unit_price_display",
        "quantity": "quantity_shown",
    }
    verbose_name_plural = "invoice schedule"

    @admin.display(description="amount")
    def amount_display(self, item) -> str:
        return money_display(item.amount, item.commit.credit_type)

    @admin.display(description="unit price")
    def unit_price_display(self, item) -> str:
        return money_display(item.unit_price, item.commit.credit_type)

    @admin.display(description="quantity")
    def quantity_shown(self, item) -> str:
        return quantity_display(item.quantity)


class BalanceTermAdmin(ReadOnlyNamesMixin, HiddenFromIndexMixin, admin.ModelAdmin):
    formfield_overrides = DECIMAL_OVERRIDES
    list_display = [
        "__str__",
        "customer",
        "contract",
        "product",
        "access_type",
        "total",
        "priority_display",
    ]
    list_filter = [ArchivedListFilter, "rate_type", "access_type"]
    list_select_related = ["customer", "contract", "product", "credit_type"]
    search_fields = ["name", "id", "customer__name", "product__name"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["customer"]
    readonly_fields = [
        "total",
        "rolled_over_from",
        "transition",
        "created_at",
        "archived_at",
        "priority_display",
        "rollover_fraction_display",
    ]
    read_only_shown_as = {
        "priority": "priority_display",
        "rollover_fraction": "rollover_fraction_display",
    }
    filter_horizontal = ["applicable_products", "applicable_contracts"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("access_schedule")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The invoice schedule rows are saved here: the SCHEDULED drafts follow them right away.
        balance_drafts_refresh(balance=form.instance, now=timezone.now())

    @admin.display(description="access schedule total")
    def total(self, obj) -> str:
        return balance_total(obj)

    @admin.display(description="priority", ordering="priority")
    def priority_display(self, obj) -> str:
        return quantity_display(obj.priority)

    @admin.display(description="rollover fraction")
    def rollover_fraction_display(self, obj) -> str:
        return quantity_display(obj.rollover_fraction)


@admin.register(Commit)
class CommitAdmin(BalanceTermAdmin):
    form = CommitPageForm
    read_only_shown_as = {**BalanceTermAdmin.read_only_shown_as, **RECURRING_HIDDEN_FROM_READERS}
    list_display = [*BalanceTermAdmin.list_display, "type"]
    list_filter = [*BalanceTermAdmin.list_filter, "type"]
    inlines = [AccessSegmentInline, CommitInvoiceItemInline]
    exclude = ["uniqueness_key"]


@admin.register(Credit)
class CreditAdmin(BalanceTermAdmin):
    form = CreditPageForm
    read_only_shown_as = {**BalanceTermAdmin.read_only_shown_as, **RECURRING_HIDDEN_FROM_READERS}
    inlines = [CreditAccessSegmentInline]
    exclude = ["uniqueness_key"]
