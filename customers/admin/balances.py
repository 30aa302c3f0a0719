"""Commits and credits on their own pages (customer-level balances have no contract)."""

from django.contrib import admin
from django.utils import timezone

from catalog.admin.display import quantity_display
from core.admin_forms import (
    DECIMAL_OVERRIDES,
    ArchivedListFilter,
    HiddenFromIndexMixin,
)

from ..forms import (
    AccessSegmentForm,
    CommitForm,
    CreditForm,
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
from .totals import balance_total

# ---------------------------------------------------------------------------------------------
# Commits and credits on their own pages (customer-level balances have no contract)


class AccessSegmentInline(admin.TabularInline):
    model = AccessSegment
    form = AccessSegmentForm
    formset = MoneyRowsInlineFormSet
    fk_name = "commit"
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["amount", "starting_at", "ending_before"]
    verbose_name_plural = "access schedule"


class CreditAccessSegmentInline(AccessSegmentInline):
    fk_name = "credit"


class CommitInvoiceItemInline(admin.TabularInline):
    model = CommitInvoiceItem
    form = ScheduleItemForm
    formset = MoneyRowsInlineFormSet
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["timestamp", "amount", "unit_price", "quantity"]
    verbose_name_plural = "invoice schedule"


class BalanceTermAdmin(HiddenFromIndexMixin, admin.ModelAdmin):
    formfield_overrides = DECIMAL_OVERRIDES
    list_display = ["__str__", "customer", "contract", "product", "total", "priority_display"]
    list_filter = [ArchivedListFilter, "rate_type"]
    list_select_related = ["customer", "contract", "product", "credit_type"]
    search_fields = ["name", "id", "customer__name", "product__name"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["customer"]
    readonly_fields = ["total", "rolled_over_from", "transition", "created_at", "archived_at"]
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


@admin.register(Commit)
class CommitAdmin(BalanceTermAdmin):
    form = CommitForm
    list_display = [*BalanceTermAdmin.list_display, "type"]
    list_filter = [*BalanceTermAdmin.list_filter, "type"]
    inlines = [AccessSegmentInline, CommitInvoiceItemInline]
    exclude = ["uniqueness_key"]


@admin.register(Credit)
class CreditAdmin(BalanceTermAdmin):
    form = CreditForm
    inlines = [CreditAccessSegmentInline]
    exclude = ["uniqueness_key"]
