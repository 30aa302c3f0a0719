"""Invoices in the admin: a list for finance staff, a read-only page with the lines.

Drafts are rated on read (the same selector as the API), so the page always shows every event
already accepted. Nothing is edited here: finalize, void and regenerate are actions calling the
services. The invoice document (page and PDF) is the customer-facing app's (`dashboards.admin`
extends this page with it).
"""

from datetime import UTC, timedelta

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_forms import admin_link
from customers.models import Contract, PaymentGate
from invoicing.models import Invoice
from invoicing.payment_gates import PaymentGateConflict, payment_gate_settle
from invoicing.selectors import drafts_preload, invoice_payers, invoice_view, invoice_views
from invoicing.services import invoice_finalize, invoice_regenerate, invoice_void


def line_rows(view) -> list[dict]:
    """The lines as the templates print them (money formatted in the invoice's pricing unit)."""
    invoice = view.invoice
    # A consolidated invoice's lines name the account whose usage they were.
    accounts = {member.pk: str(member.customer) for member in view.constituents}
    rows = []
    for line in view.lines:
        values = {**(line.pricing_group_values or {}), **(line.presentation_group_values or {})}
        tier = ""
        if line.tier_level is not None:
            size = f"{line.tier_size.normalize():f}" if line.tier_size is not None else "rest"
            tier = f"Tier {line.tier_level} (from {line.tier_starting_at.normalize():f}, {size})"
        rows.append(
            {
                "name": line.name,
                "type": line.get_type_display(),
                "group_values": ", ".join(f"{k}={v}" for k, v in sorted(values.items())),
                "quantity": "" if line.quantity is None else f"{line.quantity.normalize():f}",
                "unit_price": invoice.format(line.unit_price),
                "tier": tier,
                "amount": invoice.format(line.total),
                "starting_at": line.starting_at,
                "ending_before": line.ending_before,
                "is_unpriced": line.is_unpriced,
                "is_prorated": line.is_prorated,
                "account": accounts.get(line.origin_invoice_id, ""),
            }
        )
    return rows


class InvoiceChangeList(ChangeList):
    """The list page rates its drafts with one preload for the page (totals are computed)."""

    def get_results(self, request):
        super().get_results(request)
        preload = drafts_preload(self.result_list)
        for invoice in self.result_list:
            invoice._preload = preload


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    # Compact enough for a 1366 px screen with the navigation open: the number (or status) and
    # the period as dates are one column, the total always last and on screen.
    list_display = ["invoice_label", "customer", "contract", "type", "status", "total_display"]
    list_display_links = ["invoice_label"]
    list_filter = ["status", "type"]
    search_fields = ["customer__name", "contract__name", "=number"]
    list_select_related = ["customer", "contract__customer", "credit_type"]
    date_hierarchy = "start_timestamp"
    ordering = ["-start_timestamp", "-created_at"]
    actions = ["finalize_selected", "void_selected", "regenerate_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "customer",
                    "contract",
                    "type",
                    "period",
                    "status",
                    "number",
                    "issued_at",
                    "voided_at",
                    "regenerated_from",
                ]
            },
        ),
        (
            "Account hierarchy",
            {
                "fields": ["payer", "consolidated_into", "constituents_display"],
                "description": "Who pays for it, and a consolidated invoice's constituents.",
            },
        ),
        ("Lines", {"fields": ["lines", "subtotal_display", "total_display"]}),
    ]

    # Everything is read-only: finalized and void invoices never change, drafts are computed.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    def get_changelist(self, request, **kwargs):
        return InvoiceChangeList

    def _view(self, obj):
        if getattr(obj, "_invoice_view", None) is None:
            preload = getattr(obj, "_preload", None)
            obj._invoice_view = invoice_view(invoice=obj, now=timezone.now(), preload=preload)
        return obj._invoice_view

    @admin.display(description="Period or date")
    def period(self, obj):
        return obj.period_label

    @admin.display(description="Invoice", ordering="start_timestamp")
    def invoice_label(self, obj):
        label = f"#{obj.number}" if obj.number else obj.get_status_display()
        start = obj.start_timestamp.astimezone(UTC)
        if obj.is_scheduled:
            return f"{label}, {start:%Y-%m-%d} (scheduled)"
        last = (obj.end_timestamp - timedelta(microseconds=1)).astimezone(UTC)
        return f"{label}, {start:%Y-%m-%d} to {last:%Y-%m-%d}"

    @admin.display(description="Payer")
    def payer(self, obj):
        """The contract (and customer) that pays for it: an account hierarchy's payer, else
        its own."""
        payer = invoice_payers([obj]).get(obj.pk)
        if payer is None or payer.contract_id == obj.contract_id:
            return f"Its own customer ({obj.customer})"
        contract = Contract.objects.select_related("customer").get(pk=payer.contract_id)
        return format_html("{} ({})", contract.customer, admin_link(contract))

    @admin.display(description="Constituent invoices")
    def constituents_display(self, obj):
        """A consolidated invoice's constituents, with their totals."""
        if not obj.is_consolidated:
            return "—"
        members = self._view(obj).constituents
        views = invoice_views(invoices=members, now=timezone.now())
        rows = [(admin_link(view.invoice), obj.format(view.total)) for view in views]
        return format_html_join("", "<div>{}: {}</div>", rows) or "None"

    @admin.display(description="Total")
    def total_display(self, obj):
        if obj.status == Invoice.Status.DRAFT:
            return obj.format(self._view(obj).total)
        return obj.format(obj.total)

    @admin.display(description="Subtotal")
    def subtotal_display(self, obj):
        return obj.format(self._view(obj).subtotal)

    @admin.display(description="Lines")
    def lines(self, obj):
        view = self._view(obj)
        return render_to_string(
            "admin/invoicing/invoice/lines.html", {"invoice": obj, "rows": line_rows(view)}
        )

    def _run(self, request, queryset, service, verb: str):
        done = 0
        now = timezone.now()
        for invoice in queryset:
            try:
                service(invoice=invoice, now=now)
                done += 1
            except ValidationError as error:
                self.message_user(request, f"{invoice}: {error.messages[0]}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {done} invoice(s).", messages.SUCCESS)

    # Each state change has its own permission (the Finance admin role holds all three).
    def has_finalize_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.finalize_invoice")

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.void_invoice")

    def has_regenerate_permission(self, request) -> bool:
        return request.user.has_perm("invoicing.regenerate_invoice")

    @admin.action(description="Finalize selected draft invoices now", permissions=["finalize"])
    def finalize_selected(self, request, queryset):
        self._run(request, queryset, invoice_finalize, "Finalized")

    @admin.action(description="Void selected finalized invoices", permissions=["void"])
    def void_selected(self, request, queryset):
        self._run(request, queryset, invoice_void, "Voided")

    @admin.action(
        description="Regenerate selected void invoices as new drafts", permissions=["regenerate"]
    )
    def regenerate_selected(self, request, queryset):
        self._run(request, queryset, invoice_regenerate, "Regenerated")


@admin.register(PaymentGate)
class PaymentGateAdmin(admin.ModelAdmin):
    """Gated threshold purchases (`customers.PaymentGate`), read-only, under Getting paid. Here
    rather than in customers' admin: releasing or cancelling one goes through invoicing's
    `payment_gate_settle` (which voids the commit's invoice). Staff holding
    `customers.settle_paymentgate` settle an EXTERNAL gate by hand when the integrator cannot
    call the release endpoint; a STRIPE gate follows Stripe's webhooks only."""

    list_display = [
        "id",
        "contract",
        "threshold_kind",
        "gate_type",
        "amount_display",
        "status",
        "created_at",
        "resolved_at",
    ]
    list_filter = ["status", "gate_type", "threshold_kind"]
    list_select_related = ["contract__customer", "commit__credit_type"]
    search_fields = ["=id", "contract__name", "customer__name"]
    actions = ["release_selected", "cancel_selected"]
    readonly_fields = [
        "id",
        "contract",
        "customer",
        "commit",
        "threshold_kind",
        "gate_type",
        "payment_type",
        "invoice_metadata",
        "tax_type",
        "precalculated_tax",
        "amount_display",
        "access_starting_at",
        "access_ending_before",
        "invoice_id",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
        "reason",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm("customers.settle_paymentgate")

    @admin.display(description="amount")
    def amount_display(self, obj) -> str:
        return obj.commit.credit_type.format(obj.amount)

    @admin.action(description="Release selected external gates (paid)", permissions=["settle"])
    def release_selected(self, request, queryset):
        self._settle(request, queryset, "paid", "Released")

    @admin.action(
        description="Cancel selected external gates (void the commit)", permissions=["settle"]
    )
    def cancel_selected(self, request, queryset):
        self._settle(request, queryset, "failed", "Cancelled")

    def _settle(self, request, queryset, outcome: str, verb: str) -> None:
        done = 0
        by = f"admin: {request.user.get_username()}"
        for gate in queryset.select_related("commit"):
            if gate.gate_type != PaymentGate.GateType.EXTERNAL:
                self.message_user(
                    request,
                    f"{gate}: Stripe reports its payment; it is not settled by hand.",
                    messages.ERROR,
                )
                continue
            try:
                _, changed = payment_gate_settle(
                    gate=gate,
                    outcome=outcome,
                    now=timezone.now(),
                    by=by,
                    reason="Cancelled by staff." if outcome == "failed" else "",
                )
            except PaymentGateConflict as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            done += changed
        if done:
            self.message_user(request, f"{verb} {done} payment gate(s).", messages.SUCCESS)
