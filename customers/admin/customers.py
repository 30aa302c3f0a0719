"""Customers in the admin: aliases, contracts, and what the customer used this period."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from billing_site.admin_forms import (
    ArchivableAdmin,
    admin_link,
)

from .. import services
from ..forms import (
    IngestAliasForm,
)
from ..models import (
    Contract,
    Customer,
    IngestAlias,
)

# ---------------------------------------------------------------------------------------------
# Customers


class IngestAliasInline(admin.TabularInline):
    model = IngestAlias
    form = IngestAliasForm
    extra = 1
    fields = ["alias", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name_plural = "ingest aliases (other ids under which this customer's events arrive)"


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
class CustomerAdmin(ArchivableAdmin):
    list_display = ["name", "aliases", "contract_count", "created_at", "is_archived"]
    search_fields = ["name", "id", "external_id", "ingest_aliases__alias"]
    date_hierarchy = "created_at"
    readonly_fields = ["new_contract", "created_at", "updated_at", "archived_at"]
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
    inlines = [IngestAliasInline, ContractSummaryInline]

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
