"""Issue 14's contract terms in the admin: discounts (with their dates), professional services
(with their billings), recurring commits and credits, usage filters, and named schedules. Each
save makes the contract's drafts follow, as an edit through the API does."""

from django.contrib import admin
from django.utils import timezone

from catalog.admin.display import money_display, quantity_display
from core.admin_forms import (
    DECIMAL_OVERRIDES,
    CustomFieldsAdminMixin,
    ReadOnlyNamesMixin,
    pretty_json,
)

from ..form_editors import RECURRING_HIDDEN_FROM_READERS, RECURRING_LAYOUT
from ..forms import (
    DiscountForm,
    DiscountItemForm,
    ProfessionalServiceForm,
    RecurringBalanceForm,
    contract_unit_name,
)
from ..models import (
    ContractUsageFilter,
    Discount,
    DiscountItem,
    NamedScheduleSegment,
    ProfessionalService,
    ProServiceItem,
    RecurringBalance,
)
from ..services import (
    contract_drafts_refresh,
    recurring_balance_follow,
    recurring_balances_materialize,
)


def _contract_money(amount, contract) -> str:
    """An amount invoiced on `contract`, in its unit as people read it."""
    unit = contract.rate_card.fiat_credit_type if contract_unit_name(contract) else None
    return money_display(amount, unit)


class _FollowsDrafts(ReadOnlyNamesMixin, admin.ModelAdmin):
    """A term saved here: its contract's drafts follow (`contract.edit`). Money is typed in the
    display unit (dollars for `USD (cents)`); someone who may only view reads it so."""

    formfield_overrides = DECIMAL_OVERRIDES

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        contract_drafts_refresh(contract=form.instance.contract, now=timezone.now())


class DiscountItemInline(ReadOnlyNamesMixin, admin.TabularInline):
    model = DiscountItem
    form = DiscountItemForm
    extra = 1
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["timestamp", "amount", "unit_price", "quantity"]
    readonly_fields = ["amount_display", "unit_price_display", "quantity_shown"]
    read_only_shown_as = {
        "amount": "amount_display",
        "unit_price": "unit_price_display",
        "quantity": "quantity_shown",
    }

    @admin.display(description="amount")
    def amount_display(self, item) -> str:
        return _contract_money(item.amount, item.discount.contract)

    @admin.display(description="unit price")
    def unit_price_display(self, item) -> str:
        return _contract_money(item.unit_price, item.discount.contract)

    @admin.display(description="quantity")
    def quantity_shown(self, item) -> str:
        return quantity_display(item.quantity)


@admin.register(Discount)
class DiscountAdmin(CustomFieldsAdminMixin, _FollowsDrafts):
    custom_fields_entity = "discount"
    form = DiscountForm
    list_display = ["__str__", "contract", "product", "created_at", "archived_at"]
    list_select_related = ["contract__customer", "product"]
    search_fields = ["name", "contract__customer__name", "contract__name"]
    autocomplete_fields = ["contract", "product"]
    fields = [
        "contract",
        "product",
        "name",
        "custom_fields",
        "archived_at",
        *RECURRING_LAYOUT,  # dates added on save, beside those typed below
    ]
    read_only_shown_as = RECURRING_HIDDEN_FROM_READERS
    inlines = [DiscountItemInline]


class ProServiceItemInline(admin.TabularInline):
    """Billings made through scheduleProServicesInvoice (read-only: the API caps them)."""

    model = ProServiceItem
    extra = 0
    can_delete = False
    fields = ["timestamp", "quantity_shown", "unit_price_display", "metadata", "created_at"]
    readonly_fields = fields

    @admin.display(description="quantity")
    def quantity_shown(self, item) -> str:
        return quantity_display(item.quantity)

    @admin.display(description="unit price")
    def unit_price_display(self, item) -> str:
        return _contract_money(item.unit_price, item.professional_service.contract)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProfessionalService)
class ProfessionalServiceAdmin(CustomFieldsAdminMixin, _FollowsDrafts):
    custom_fields_entity = "professional_service"
    form = ProfessionalServiceForm
    list_display = ["__str__", "contract", "unit_price_display", "quantity_shown", "max_display"]
    list_select_related = ["contract__customer", "contract__rate_card__fiat_credit_type", "product"]
    search_fields = ["description", "contract__customer__name"]
    autocomplete_fields = ["contract", "product"]
    fields = [
        "contract",
        "product",
        "description",
        ("unit_price", "quantity", "max_amount"),
        "custom_fields",
        "archived_at",
    ]
    readonly_fields = ["unit_price_display", "quantity_shown", "max_display"]
    read_only_shown_as = {
        "unit_price": "unit_price_display",
        "quantity": "quantity_shown",
        "max_amount": "max_display",
    }
    inlines = [ProServiceItemInline]

    @admin.display(description="unit price")
    def unit_price_display(self, service) -> str:
        return _contract_money(service.unit_price, service.contract)

    @admin.display(description="quantity")
    def quantity_shown(self, service) -> str:
        return quantity_display(service.quantity)

    @admin.display(description="maximum amount")
    def max_display(self, service) -> str:
        return _contract_money(service.max_amount, service.contract)


@admin.register(RecurringBalance)
class RecurringBalanceAdmin(_FollowsDrafts):
    form = RecurringBalanceForm
    list_display = [
        "__str__",
        "kind",
        "contract",
        "access_price_display",
        "access_quantity_shown",
        "starting_at",
        "ending_before",
    ]
    list_filter = ["kind", "proration", "allocation"]
    list_select_related = [
        "contract__customer",
        "contract__rate_card__fiat_credit_type",
        "credit_type",
        "product",
    ]
    search_fields = ["name", "contract__customer__name"]
    autocomplete_fields = ["contract", "product"]
    fields = [
        "contract",
        "kind",
        "product",
        "name",
        "description",
        ("priority", "rate_type"),
        ("access_unit_price", "access_quantity", "credit_type"),
        ("invoice_unit_price", "invoice_quantity"),
        ("duration_periods", "recurrence_frequency", "proration"),
        ("access_rounding_places", "access_rounding_method"),
        ("invoice_rounding_places", "invoice_rounding_method"),
        ("starting_at", "ending_before"),
        ("subscription", "allocation", "prorate_seat_increases"),
        "applicable_products",
        "applicable_product_tags",
        "specifiers",
        "rollover_fraction",
        "custom_fields",
        "archived_at",
    ]
    filter_horizontal = ["applicable_products"]
    readonly_fields = [
        "access_price_display",
        "access_quantity_shown",
        "invoice_price_display",
        "invoice_quantity_shown",
        "priority_shown",
        "duration_shown",
        "rollover_shown",
    ]
    read_only_shown_as = {
        "access_unit_price": "access_price_display",
        "access_quantity": "access_quantity_shown",
        "invoice_unit_price": "invoice_price_display",
        "invoice_quantity": "invoice_quantity_shown",
        "priority": "priority_shown",
        "duration_periods": "duration_shown",
        "rollover_fraction": "rollover_shown",
    }

    @admin.display(description="access unit price")
    def access_price_display(self, balance) -> str:
        return money_display(balance.access_unit_price, balance.credit_type)

    @admin.display(description="access quantity")
    def access_quantity_shown(self, balance) -> str:
        return quantity_display(balance.access_quantity)

    @admin.display(description="invoice unit price")
    def invoice_price_display(self, balance) -> str:
        return _contract_money(balance.invoice_unit_price, balance.contract)

    @admin.display(description="invoice quantity")
    def invoice_quantity_shown(self, balance) -> str:
        return quantity_display(balance.invoice_quantity)

    @admin.display(description="priority")
    def priority_shown(self, balance) -> str:
        return quantity_display(balance.priority)

    @admin.display(description="duration (periods)")
    def duration_shown(self, balance) -> str:
        return quantity_display(balance.duration_periods)

    @admin.display(description="rollover fraction")
    def rollover_shown(self, balance) -> str:
        return quantity_display(balance.rollover_fraction)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        now = timezone.now()
        # As update_recurring_commits does: what the term made and has not started follows it.
        recurring_balance_follow(term=form.instance, now=now)
        recurring_balances_materialize(contract=form.instance.contract, now=now)


@admin.register(ContractUsageFilter)
class ContractUsageFilterAdmin(_FollowsDrafts):
    list_display = ["__str__", "contract", "starting_at", "ending_before"]
    list_select_related = ["contract__customer"]
    search_fields = ["group_key", "contract__customer__name"]
    autocomplete_fields = ["contract"]
    fields = ["contract", "group_key", "group_values", ("starting_at", "ending_before")]


@admin.register(NamedScheduleSegment)
class NamedScheduleSegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "starting_at", "ending_before", "value_display"]
    list_filter = ["name"]
    search_fields = ["name", "customer__name", "contract__customer__name", "rate_card__name"]
    autocomplete_fields = ["rate_card", "contract", "customer"]
    fields = [
        "name",
        ("rate_card", "contract", "customer"),
        "properties",
        ("starting_at", "ending_before"),
        "value",
    ]

    @admin.display(description="owner")
    def owner(self, obj) -> str:
        return str(obj.rate_card or obj.contract or obj.customer)

    @admin.display(description="value")
    def value_display(self, obj) -> str:
        return pretty_json(obj.value)
