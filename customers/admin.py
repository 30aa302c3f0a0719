"""The Customers section of the admin: customers with their aliases, contracts with their terms."""

from django.contrib import admin
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from catalog.admin import (
    NESTED_MEDIA,
    ArchivableAdmin,
    ArchivedListFilter,
    HiddenFromIndexMixin,
    admin_link,
    money_display,
    pretty_json,
    quantity_display,
    rate_price_summary,
)
from catalog.forms import DECIMAL_OVERRIDES
from catalog.models import Product

from . import services
from .forms import (
    BalanceTermFormSet,
    CommitForm,
    CommitWithRowsForm,
    ContractForm,
    CreditForm,
    CreditWithRowsForm,
    IngestAliasForm,
    OverrideForm,
    ScheduledChargeForm,
)
from .models import (
    AccessSegment,
    Commit,
    CommitInvoiceItem,
    Contract,
    ContractEdit,
    Credit,
    Customer,
    IngestAlias,
    Override,
    ScheduledCharge,
    Subscription,
)

NESTED_TEMPLATE = "admin/edit_inline/stacked_nested.html"


def send_test_event_url(contract, product) -> str | None:
    """The sandbox form for this contract and product, once the metering admin provides it."""
    try:
        return reverse(
            "admin:metering_send_test_event",
            kwargs={"contract_id": contract.pk, "product_id": product.pk},
        )
    except NoReverseMatch:
        return None


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


# ---------------------------------------------------------------------------------------------
# Contract terms, shown on the contract page


class CommitInline(admin.StackedInline):
    model = Commit
    fk_name = "contract"
    form = CommitWithRowsForm
    formset = BalanceTermFormSet
    template = NESTED_TEMPLATE
    extra = 0
    show_change_link = True
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["total"]
    fields = [
        ("product", "type"),
        ("name", "priority"),
        ("rate_type", "credit_type"),
        "applicable_products",
        "applicable_product_tags",
        ("rollover_fraction", "total"),
        "description",
    ]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    @admin.display(description="access schedule total")
    def total(self, obj) -> str:
        return balance_total(obj)


class CreditInline(CommitInline):
    model = Credit
    form = CreditWithRowsForm
    fields = [
        "product",
        ("name", "priority"),
        ("rate_type", "credit_type"),
        "applicable_products",
        "applicable_product_tags",
        ("rollover_fraction", "total"),
        "description",
    ]


class OverrideInline(admin.StackedInline):
    model = Override
    form = OverrideForm
    template = NESTED_TEMPLATE
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["summary"]
    fields = [
        ("type", "target", "summary"),
        ("product", "applicable_product_tags"),
        ("pricing_group_values", "presentation_group_values"),
        ("starting_at", "ending_before"),
        ("multiplier", "priority"),
        ("overwrite_rate_type", "overwrite_price", "overwrite_credit_type"),
        ("entitled", "is_commit_specific", "commit_ids"),
    ]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    @admin.display(description="in short")
    def summary(self, obj) -> str:
        if obj.pk is None or obj._state.adding:
            return "—"
        if obj.type == Override.Type.MULTIPLIER:
            return f"list price x {quantity_display(obj.multiplier)}"
        if obj.type == Override.Type.OVERWRITE and obj.overwrite_rate_type == "FLAT":
            unit = obj.overwrite_credit_type or obj.contract.pricing_unit
            return f"price becomes {money_display(obj.overwrite_price, unit)}"
        return obj.get_type_display()


class ScheduledChargeInline(admin.StackedInline):
    model = ScheduledCharge
    form = ScheduledChargeForm
    template = NESTED_TEMPLATE
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["total"]
    fields = [("product", "name", "total")]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    @admin.display(description="total")
    def total(self, obj) -> str:
        if obj.pk is None or obj._state.adding:
            return "—"
        return items_total(obj, obj.contract.pricing_unit)


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = [
        "product",
        "name",
        "billing_frequency",
        "collection_schedule",
        "is_prorated",
        "initial_quantity",
        "starting_at",
        "ending_before",
    ]


class ContractEditInline(admin.TabularInline):
    """Edits made through the API (v2 contracts/edit), read-only."""

    model = ContractEdit
    extra = 0
    can_delete = False
    fields = ["created_at", "created_by", "uniqueness_key", "changes_display"]
    readonly_fields = fields
    verbose_name_plural = "edits (from the API)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="changes")
    def changes_display(self, obj) -> str:
        return pretty_json(obj.changes)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    form = ContractForm
    formfield_overrides = DECIMAL_OVERRIDES
    list_display = [
        "__str__",
        "customer",
        "rate_card",
        "starting_at",
        "ending_before",
        "usage_statement_frequency",
        "net_payment_terms_days",
    ]
    list_filter = [
        ArchivedListFilter,
        "usage_statement_frequency",
        "usage_statement_day",
        "billing_provider",
        "rate_card",
    ]
    list_select_related = ["customer", "rate_card"]
    search_fields = [
        "name",
        "id",
        "customer__name",
        "customer__ingest_aliases__alias",
        "rate_card__name",
    ]
    date_hierarchy = "starting_at"
    autocomplete_fields = ["customer", "rate_card", "package"]
    readonly_fields = ["rate_card_products", "created_at", "created_by", "archived_at"]
    fieldsets = [
        (None, {"fields": ["customer", "name", "rate_card", "package"]}),
        ("Dates", {"fields": [("starting_at", "ending_before")]}),
        (
            "Usage statements and invoices",
            {
                "fields": [
                    ("usage_statement_frequency", "usage_statement_day"),
                    "net_payment_terms_days",
                    "scheduled_charges_on_usage_invoices",
                    "billing_provider",
                    "multiplier_override_prioritization",
                ]
            },
        ),
        ("Rate card products", {"fields": ["rate_card_products"]}),
        (
            "More",
            {
                "fields": [
                    "uniqueness_key",
                    "custom_fields",
                    "created_at",
                    "created_by",
                    "archived_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    inlines = [
        CommitInline,
        CreditInline,
        OverrideInline,
        ScheduledChargeInline,
        SubscriptionInline,
        ContractEditInline,
    ]

    class Media:
        css = NESTED_MEDIA["css"]

    @admin.display(description="products and prices")
    def rate_card_products(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "Save the contract to see its rate card's products."
        rates = (
            obj.rate_card.rates.select_related("product", "credit_type")
            .prefetch_related("tiers")
            .order_by("product__name", "pricing_group_values_key", "starting_at")
        )
        products: dict = {}
        for rate in rates:
            products.setdefault(rate.product, []).append(rate)
        if not products:
            return "This rate card has no rates yet."
        rows = []
        for product, product_rates in products.items():
            prices = format_html_join(
                "",
                "<div>{}{}</div>",
                (
                    (
                        ", ".join(f"{k}={v}" for k, v in sorted(r.pricing_group_values.items()))
                        + (": " if r.pricing_group_values else ""),
                        rate_price_summary(r),
                    )
                    for r in product_rates
                ),
            )
            url = send_test_event_url(obj, product) if product.type == Product.Type.USAGE else None
            button = (
                format_html(
                    '<a class="button test-event-button" href="{}">Send test event</a>', url
                )
                if url
                else ""
            )
            rows.append((admin_link(product), product.get_type_display(), prices, button))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="products"><thead><tr><th>Product</th><th>Type</th><th>Price</th>'
            "<th></th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


# ---------------------------------------------------------------------------------------------
# Commits and credits on their own pages (customer-level balances have no contract)


class AccessSegmentInline(admin.TabularInline):
    model = AccessSegment
    fk_name = "commit"
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["amount", "starting_at", "ending_before"]
    verbose_name_plural = "access schedule"


class CreditAccessSegmentInline(AccessSegmentInline):
    fk_name = "credit"


class CommitInvoiceItemInline(admin.TabularInline):
    model = CommitInvoiceItem
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
    readonly_fields = ["total", "created_at", "archived_at"]
    filter_horizontal = ["applicable_products", "applicable_contracts"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("access_schedule")

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
