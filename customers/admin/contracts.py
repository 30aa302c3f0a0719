"""Contracts in the admin: the contract's terms edited on its page, its products and its invoices."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from catalog.admin.display import money_display, quantity_display, rate_price_summary
from catalog.models import Package, Product
from core.admin_forms import (
    DECIMAL_OVERRIDES,
    NESTED_MEDIA,
    ArchivedListFilter,
    CustomFieldsAdminMixin,
    ReadOnlyNamesMixin,
    ViewerAwareAdmin,
    admin_link,
    page_viewer_may,
    pretty_json,
)

from ..form_editors import RECURRING_HIDDEN_FROM_READERS, RECURRING_LAYOUT
from ..forms import (
    BalanceTermFormSet,
    CommitWithRowsForm,
    ContractForm,
    ContractFromPackageForm,
    CreditWithRowsForm,
    OverrideForm,
    ScheduledChargeForm,
)
from ..hierarchy import shared_with_children
from ..models import (
    Commit,
    Contract,
    ContractEdit,
    Credit,
    Customer,
    Override,
    ScheduledCharge,
    Subscription,
)
from ..selectors import (
    contract_transitions,
    customer_balances,
    customer_billing_configurations,
)
from ..services import (
    contract_create_from_package,
    contract_drafts_refresh,
    contract_renew,
    payment_gate_retry_at,
)
from . import panels
from .charts import CHART_MEDIA_JS, chart_urls, charts_panel
from .configurations import configurations_panel
from .spend_trackers import spend_trackers_panel
from .totals import balance_total, items_total

NESTED_TEMPLATE = "admin/edit_inline/stacked_nested.html"
NOT_ON_ADD = (
    "Account hierarchy",
    "Invoices",
    "Balances (commits and credits)",
    "Usage and spend this period",
    "Billing provider and revenue system over time",
)


# ---------------------------------------------------------------------------------------------
# Contract terms, shown on the contract page


class TermNumbersMixin(ReadOnlyNamesMixin):
    """A term's numbers as people write them for someone who may not change them (not a
    stored decimal with twelve places)."""

    @admin.display(description="priority")
    def priority_display(self, obj) -> str:
        return quantity_display(obj.priority)

    @admin.display(description="rollover fraction")
    def rollover_fraction_display(self, obj) -> str:
        return quantity_display(obj.rollover_fraction)


class CommitInline(TermNumbersMixin, admin.StackedInline):
    model = Commit
    fk_name = "contract"
    form = CommitWithRowsForm
    formset = BalanceTermFormSet
    template = NESTED_TEMPLATE
    extra = 0
    show_change_link = True
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = [
        "total",
        "rollover",
        "priority_display",
        "rollover_fraction_display",
    ]
    read_only_shown_as = {
        "priority": "priority_display",
        "rollover_fraction": "rollover_fraction_display",
        **RECURRING_HIDDEN_FROM_READERS,
    }
    fields = [
        ("product", "type"),
        ("name", "priority"),
        ("rate_type", "credit_type", "access_type"),
        "applicable_products",
        "applicable_product_tags",
        "specifiers",
        ("rollover_fraction", "total"),
        "rollover",
        "description",
        *RECURRING_LAYOUT,  # invoice dates added on save
    ]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    @admin.display(description="access schedule total")
    def total(self, obj) -> str:
        return balance_total(obj)

    @admin.display(description="rolled over from")
    def rollover(self, obj) -> str:
        if obj is None or obj.pk is None or not obj.is_rollover:
            return "—"
        source = obj.rolled_over_from
        return format_html(
            "Rollover of {} (contract {}): drawn before every other balance, never invoiced",
            admin_link(source),
            admin_link(source.contract),
        )


class CreditInline(CommitInline):
    model = Credit
    form = CreditWithRowsForm
    fields = [
        "product",
        ("name", "priority"),
        ("rate_type", "credit_type", "access_type"),
        "applicable_products",
        "applicable_product_tags",
        "specifiers",
        ("rollover_fraction", "total"),
        "rollover",
        "description",
        *RECURRING_LAYOUT,  # access segments added on save
    ]


class OverrideInline(TermNumbersMixin, admin.StackedInline):
    model = Override
    form = OverrideForm
    template = NESTED_TEMPLATE
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["summary", "multiplier_display", "priority_display", "price_display"]
    fields = [
        ("type", "target", "summary"),
        ("product", "applicable_product_tags", "tags_match"),
        ("pricing_group_values", "presentation_group_values", "billing_frequency"),
        ("starting_at", "ending_before"),
        ("multiplier", "priority"),
        ("overwrite_rate_type", "overwrite_price", "overwrite_credit_type"),
        ("entitled", "is_commit_specific", "commit_ids"),
    ]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    read_only_shown_as = {
        "multiplier": "multiplier_display",
        "priority": "priority_display",
        "overwrite_price": "price_display",
    }

    @admin.display(description="multiplier")
    def multiplier_display(self, obj) -> str:
        return quantity_display(obj.multiplier)

    @admin.display(description="overwrite price")
    def price_display(self, obj) -> str:
        return money_display(
            obj.overwrite_price, obj.overwrite_credit_type or obj.contract.pricing_unit
        )

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


class ScheduledChargeInline(ReadOnlyNamesMixin, admin.StackedInline):
    model = ScheduledCharge
    form = ScheduledChargeForm
    template = NESTED_TEMPLATE
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["total"]
    fields = [("product", "name", "total"), *RECURRING_LAYOUT]
    read_only_shown_as = RECURRING_HIDDEN_FROM_READERS

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    @admin.display(description="total")
    def total(self, obj) -> str:
        if obj.pk is None or obj._state.adding:
            return "—"
        return items_total(obj, obj.contract.pricing_unit)


class SubscriptionInline(admin.StackedInline):
    """Stacked (eight fields in a row would not fit a laptop's screen)."""

    model = Subscription
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = [
        ("product", "name"),
        ("billing_frequency", "collection_schedule", "is_prorated"),
        "initial_quantity",
        ("starting_at", "ending_before"),
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
class ContractAdmin(CustomFieldsAdminMixin, ViewerAwareAdmin, admin.ModelAdmin):
    custom_fields_entity = "contract"
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
    readonly_fields = [
        "transitions",
        "hierarchy",
        "charts",
        "rate_card_products",
        "balances",
        "payment_gates",
        "spend_tracker_table",
        "reseller_royalties",
        "configuration_schedule",
        "revenue_system_configuration",
        "invoices",
        "created_at",
        "created_by",
        "archived_at",
    ]
    fieldsets = [
        (None, {"fields": ["customer", "name", "rate_card", "package"]}),
        ("Dates", {"fields": [("starting_at", "ending_before"), "transitions"]}),
        ("Account hierarchy", {"fields": ["hierarchy"]}),
        (
            "Usage statements and invoices",
            {
                "fields": [
                    ("usage_statement_frequency", "usage_statement_day", "billing_anchor_date"),
                    "net_payment_terms_days",
                    "scheduled_charges_on_usage_invoices",
                    ("billing_provider", "billing_provider_configuration"),
                    "revenue_system_configuration",
                    "multiplier_override_prioritization",
                ]
            },
        ),
        ("Billing provider and revenue system over time", {"fields": ["configuration_schedule"]}),
        ("Usage and spend this period", {"fields": ["charts"]}),
        ("Rate card products", {"fields": ["rate_card_products"]}),
        (
            "Balances (commits and credits)",
            {"fields": ["balances", "payment_gates", "spend_tracker_table"]},
        ),
        ("Invoices", {"fields": ["invoices"]}),
        ("Marketplace reseller royalties", {"fields": ["reseller_royalties"]}),
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
    actions = ["renew"]
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
        js = CHART_MEDIA_JS

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Terms edited inline move scheduled dates and amounts: drafts follow, as after a v2 edit.
        contract_drafts_refresh(contract=form.instance, now=timezone.now())

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # a new contract has no balances or invoices yet
            return [fs for fs in self.fieldsets if fs[0] not in NOT_ON_ADD]
        return self.fieldsets

    @admin.action(
        description="Renew for another term (rolls commits and credits over)", permissions=["add"]
    )
    def renew(self, request, queryset):
        """A RENEWAL of each selected contract (`services.contract_renew`)."""
        now = timezone.now()
        for contract in queryset.select_related("customer", "rate_card"):
            try:
                renewal = contract_renew(contract=contract, now=now, created_by=str(request.user))
            except ValidationError as exc:
                self.message_user(request, f"{contract}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            self.log_addition(request, renewal, [{"added": {}}])
            self.message_user(
                request,
                format_html("{} renewed: {}", str(contract), admin_link(renewal)),
                messages.SUCCESS,
            )

    @admin.display(description="")
    def charts(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return charts_panel(obj, now=timezone.now())

    @admin.display(description="configurations (a v2 edit may switch them from a period)")
    def configuration_schedule(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return configurations_panel(obj)

    @admin.display(description="spend trackers (reset each billing period)")
    def spend_tracker_table(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return spend_trackers_panel(obj, now=timezone.now())

    @admin.display(description="transitions")
    def transitions(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        rows = []
        for transition in contract_transitions(contract=obj):
            kind = transition.get_type_display()
            if transition.to_contract_id == obj.pk:
                rows.append(("Follows", admin_link(transition.from_contract), kind))
            else:
                rows.append(("Followed by", admin_link(transition.to_contract), kind))
        if not rows:
            return "None: this contract neither follows nor is followed by another."
        return format_html_join("", "<div>{} {} ({})</div>", rows)

    @admin.display(description="parent and children")
    def hierarchy(self, obj) -> str:
        """The account hierarchy (set by the API's hierarchy_configuration on create): the
        parent a child draws shared commits and credits from, or a parent's children."""
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        rows = []
        if obj.parent_contract_id is not None:
            rows.append(
                format_html(
                    "<div>Child of {} (payer: {}; usage statements: {})</div>",
                    admin_link(obj.parent_contract),
                    obj.hierarchy_payer or "not set",
                    obj.hierarchy_usage_statement_behavior or "not set",
                )
            )
        children = list(obj.child_contracts.select_related("customer").order_by("starting_at"))
        if children:
            rows.append(
                format_html(
                    "<div>Parent of {}</div>",
                    format_html_join(", ", "{}", ((admin_link(c),) for c in children)),
                )
            )
        if obj.invoice_consolidation_type:
            rows.append(
                format_html(
                    "<div>Invoice consolidation: {}</div>",
                    obj.get_invoice_consolidation_type_display(),
                )
            )
        shared = [
            term
            for term in (*obj.commits.all(), *obj.credits.all())
            if shared_with_children(term.child_access)
        ]
        for term in shared:
            access = term.child_access
            who = (
                "every child"
                if access["type"] == "ALL"
                else f"{len(access['contract_ids'])} named child contract(s)"
            )
            rows.append(format_html("<div>{} is shared with {}</div>", str(term), who))
        if not rows:
            return "None: this contract has no parent and no children."
        return format_html_join("", "{}", ((row,) for row in rows))

    @admin.display(description="balance left and ledger")
    def balances(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        found = customer_balances(customer=obj.customer, include_contract_balances=True)
        terms = [
            *found["commit"].filter(contract=obj).order_by("priority", "created_at"),
            *found["credit"].filter(contract=obj).order_by("priority", "created_at"),
        ]
        return panels.balances_panel(
            terms, now=timezone.now(), empty="This contract has no commits or credits."
        )

    @admin.display(description="gated threshold purchases")
    def payment_gates(self, obj) -> str:
        """Purchases waiting on (or decided by) their payment: a pending one holds nothing yet.
        Staff release or cancel an EXTERNAL one from its own page (Getting paid)."""
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        gates = list(obj.payment_gates.select_related("commit__credit_type"))
        if not gates:
            return "None."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:customers_paymentgate_change", args=[gate.pk]),
                    gate.pk,
                    gate.threshold_kind,
                    gate.get_gate_type_display(),
                    money_display(gate.amount, gate.commit.credit_type),
                    gate.get_status_display(),
                    f"{gate.created_at:%Y-%m-%d %H:%M}",
                    gate.resolved_by or "—",
                )
                for gate in gates
            ),
        )
        now = timezone.now()
        waits = [
            (kind, retry_at)
            for kind in sorted({gate.threshold_kind for gate in gates})
            if (retry_at := payment_gate_retry_at(contract_id=obj.pk, kind=kind)) and now < retry_at
        ]
        cool_down = format_html_join(
            "",
            "<p>{}: its Stripe payment failed; the threshold charges again after {} UTC.</p>",
            ((kind, f"{retry_at:%Y-%m-%d %H:%M}") for kind, retry_at in waits),
        )
        return format_html(
            "<table><thead><tr><th>Workflow</th><th>Threshold</th><th>Gate</th><th>Amount</th>"
            "<th>Status</th><th>Bought (UTC)</th><th>Settled by</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            rows,
            cool_down,
        )

    @admin.display(description="reseller royalties")
    def reseller_royalties(self, obj) -> str:
        """What marketplace resellers keep of the spend (added by amendments); recorded for
        the marketplace, they change no invoice total."""
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        royalties = list(obj.reseller_royalties.all())
        if not royalties:
            return "None."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.get_reseller_type_display(),
                    f"{r.fraction * 100:.2f}%".replace(".00%", "%"),
                    r.netsuite_reseller_id,
                    ", ".join([*r.applicable_product_tags, *r.applicable_product_ids]) or "—",
                    f"{r.starting_at:%Y-%m-%d %H:%M}",
                    f"{r.ending_before:%Y-%m-%d %H:%M}" if r.ending_before else "open-ended",
                )
                for r in royalties
            ),
        )
        return format_html(
            "<table><thead><tr><th>Reseller</th><th>Share</th><th>NetSuite reseller</th>"
            "<th>Products and tags</th><th>From (UTC)</th><th>Until (UTC)</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="invoices (newest period first)")
    def invoices(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        return panels.contract_invoices_panel(obj, now=timezone.now())

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
        may_send_test_events = page_viewer_may("metering.send_test_event")
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
            url = (
                _sandbox_url(obj, product)
                if product.type == Product.Type.USAGE and may_send_test_events
                else None
            )
            button = (
                format_html(
                    '<a class="button test-event-button" href="{}">Send test event</a>', url
                )
                if url
                else ""
            )
            rows.append((admin_link(product), product.get_type_display(), prices, button))
        body = format_html_join(
            "",
            '<tr><td data-label="Product">{}</td><td data-label="Type">{}</td>'
            '<td data-label="Price">{}</td><td data-label="">{}</td></tr>',
            rows,
        )
        return format_html(
            '<table class="products stack-on-phone"><thead><tr><th>Product</th><th>Type</th>'
            "<th>Price</th><th></th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def get_urls(self):
        own = [
            path(
                "from-package/<uuid:package_id>/",
                self.admin_site.admin_view(self.from_package_view),
                name="customers_contract_from_package",
            ),
            *chart_urls(self),
            path(
                "billing-configurations/",
                self.admin_site.admin_view(self.billing_configurations_view),
                name="customers_contract_billing_configurations",
            ),
        ]
        return own + super().get_urls()

    def billing_configurations_view(self, request):
        """The active billing provider configurations of `?customer=`, as JSON: the contract
        forms' list of configurations follows the customer chosen (needs the permission to add
        or change contracts)."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        try:
            customer_id = uuid.UUID(request.GET.get("customer", ""))
        except ValueError:
            return JsonResponse({"message": "customer: give a customer id."}, status=400)
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            return JsonResponse({"message": f"customer: no customer {customer_id}."}, status=404)
        configs = customer_billing_configurations(customer=customer)
        return JsonResponse({"results": [{"id": str(c.pk), "text": str(c)} for c in configs]})

    def from_package_view(self, request, package_id):
        """A contract copying the package (the same service as the API's contract create with
        package_id), then its page; the service's refusals are shown on the form."""
        package = get_object_or_404(Package, pk=package_id)
        if not self.has_add_permission(request) or not request.user.has_perm(
            "catalog.view_package"
        ):
            raise PermissionDenied
        form = ContractFromPackageForm(
            request.POST if request.method == "POST" else None,
            initial={"customer": request.GET.get("customer")},
            admin_site=self.admin_site,
        )
        if package.archived_at is not None:
            form.add_error(None, "This package is archived; new contracts cannot use it.")
        if request.method == "POST" and form.is_valid():
            try:
                contract = contract_create_from_package(
                    customer=form.cleaned_data["customer"],
                    package=package,
                    starting_at=form.cleaned_data["starting_at"],
                    now=timezone.now(),
                    uniqueness_key=form.cleaned_data["uniqueness_key"] or None,
                    created_by=request.user.get_username() or "admin",
                    billing_provider_configuration=form.cleaned_data[
                        "billing_provider_configuration"
                    ],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                self.message_user(
                    request,
                    f"Contract “{contract}” was created from package “{package}”.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:customers_contract_change", args=[contract.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Create contract from package “{package}”",
            "opts": Package._meta,
            "original": package,
            "package": package,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/customers/contract/from_package.html", context)


def _sandbox_url(contract, product) -> str | None:
    from customers.admin import send_test_event_url  # looked up late: tests replace its reverse

    return send_test_event_url(contract, product)
