"""Customers in the admin: aliases, contracts, and what the customer used this period."""

from collections.abc import Callable

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_forms import NESTED_MEDIA, ArchivableAdmin, CustomFieldsAdminMixin, admin_link

from .. import services
from ..forms import (
    IngestAliasForm,
)
from ..models import (
    BillingProviderConfiguration,
    Contract,
    Customer,
    IngestAlias,
)
from ..selectors import customer_balances, customer_current_period
from . import panels
from .charts import CHART_MEDIA_JS, charts_panel
from .configurations import RevenueSystemConfigurationInline

# ---------------------------------------------------------------------------------------------
# Customers

# Panels that apps above add to the customer page, from their own admin modules (customers
# imports none of them): (fieldset title, function of the customer returning its HTML).
CUSTOMER_PANELS: list[tuple[str, Callable]] = []


def customer_panel(title: str):
    """Register the decorated function (customer -> HTML) as a panel of the customer page."""

    def register(function: Callable) -> Callable:
        CUSTOMER_PANELS.append((title, admin.display(description="")(function)))
        return function

    return register


class IngestAliasInline(admin.TabularInline):
    model = IngestAlias
    form = IngestAliasForm
    extra = 1
    fields = ["alias", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name_plural = "ingest aliases (other ids under which this customer's events arrive)"


class BillingConfigurationInline(admin.TabularInline):
    """Where the customer's invoices are sent: for Stripe, its Stripe customer (cus_...)."""

    model = BillingProviderConfiguration
    extra = 0
    fields = [
        "billing_provider",
        "billing_provider_customer_id",
        "stripe_collection_method",
        "created_at",
        "archived_at",
    ]
    readonly_fields = ["created_at"]
    can_delete = False
    verbose_name_plural = (
        "billing provider configurations (set a contract's billing provider to use them)"
    )


class ContractSummaryInline(admin.TabularInline):
    """The customer's contracts, read-only here; each opens on its own page."""

    model = Contract
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "contract",
        "rate_card",
        "starting_at",
        "ending_before",
        "usage_statement_frequency",
        "archived_at",
    ]
    readonly_fields = fields
    verbose_name_plural = "contracts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="contract")
    def contract(self, obj) -> str:
        return admin_link(obj)


@admin.register(Customer)
class CustomerAdmin(CustomFieldsAdminMixin, ArchivableAdmin):
    custom_fields_entity = "customer"
    list_display = ["name", "aliases", "contract_count", "created_at", "is_archived"]
    search_fields = ["name", "id", "external_id", "ingest_aliases__alias"]
    # Explicit: the contracts count's GROUP BY drops Meta.ordering, and the autocomplete pages
    # (a contract's or a balance's customer) must not page an unordered list.
    ordering = ["name", "id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "new_contract",
        "created_at",
        "updated_at",
        "archived_at",
        "current_usage",
        "late_events",
        "balances",
        "charts",
    ]
    fields = [
        "name",
        "external_id",
        "salesforce_account_id",
        "custom_fields",
        "new_contract",
        "created_at",
        "updated_at",
        "archived_at",
    ]
    billing_fields = ["billing_name", "billing_address", "billing_email"]
    usage_fields = ["charts", "current_usage", "late_events"]
    inlines = [
        IngestAliasInline,
        BillingConfigurationInline,
        RevenueSystemConfigurationInline,
        ContractSummaryInline,
    ]
    change_list_template = "admin/customers/customer/change_list.html"

    class Media:
        css = NESTED_MEDIA["css"]
        js = CHART_MEDIA_JS

    def get_fieldsets(self, request, obj=None):
        billing = ("Bill to (printed on invoices)", {"fields": self.billing_fields})
        main = self.fields
        if not request.user.has_perm("customers.add_contract"):  # not offered what is refused
            main = [name for name in main if name != "new_contract"]
        if obj is None:
            return [(None, {"fields": main}), billing]
        return [
            (None, {"fields": main}),
            billing,
            ("Usage this billing period", {"fields": self.usage_fields}),
            ("Customer-level commits and credits", {"fields": ["balances"]}),
            *((title, {"fields": [panel]}) for title, panel in CUSTOMER_PANELS),
        ]

    def get_inlines(self, request, obj):
        if obj is None:  # a new customer has no revenue system configurations (customer create)
            return [i for i in self.inlines if i is not RevenueSystemConfigurationInline]
        return self.inlines

    def get_readonly_fields(self, request, obj=None):
        panels = [panel for _, panel in CUSTOMER_PANELS] if obj is not None else []
        return [*super().get_readonly_fields(request, obj), *panels]

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        # The unattributed ids, on the plain first page only (not on every search or page).
        if not set(request.GET) - {"o"}:
            extra_context["unattributed"] = panels.unattributed_box(now=timezone.now())
        return super().changelist_view(request, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        panels.unattributed_forget()  # an alias may have been added: recount on the list

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        alias = request.GET.get("ingest_alias")
        if isinstance(inline, IngestAliasInline) and alias and request.method == "GET":
            # "New customer with this alias" from the unattributed ids: the alias row prefilled.
            kwargs["initial"] = [{"alias": alias}]
        return kwargs

    @admin.display(description="charts of the current contract")
    def charts(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        found = customer_current_period(customer=obj, now=timezone.now())
        if found is None:
            return "No contract in effect: nothing to chart."
        return charts_panel(found[2], now=timezone.now())

    @admin.display(description="usage per billable metric")
    def current_usage(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return panels.customer_usage_panel(obj, now=timezone.now())

    @admin.display(description="balance left and ledger")
    def balances(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        found = customer_balances(customer=obj)
        terms = [
            *found["commit"].order_by("priority", "created_at"),
            *found["credit"].order_by("priority", "created_at"),
        ]
        return panels.balances_panel(
            terms,
            now=timezone.now(),
            empty="No customer-level commits or credits (contract ones are on each contract).",
        )

    @admin.display(description="late events")
    def late_events(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return panels.customer_late_events(obj)

    def archive(self, obj, *, now):
        # Like the API: the customer's contracts are archived with it.
        services.customer_archive(customer=obj, now=now)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("ingest_aliases")
            .annotate(_contracts=Count("contracts", distinct=True))
        )

    @admin.display(description="ingest aliases")
    def aliases(self, obj) -> str:
        return ", ".join(alias.alias for alias in obj.ingest_aliases.all()) or "—"

    @admin.display(description="contracts", ordering="_contracts")
    def contract_count(self, obj) -> int:
        return obj._contracts

    @admin.display(description="")
    def new_contract(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "Save the customer first, then add contracts."
        url = reverse("admin:customers_contract_add") + f"?customer={obj.pk}"
        return format_html('<a class="addlink" href="{}">Add a contract</a>', url)
