"""Packages in the admin: created, then read and archived (a contract copies them)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin_forms import (
    NESTED_MEDIA,
    ArchivableAdmin,
    archive_selected,
    pretty_json,
)

from .. import services
from ..forms import (
    PackageForm,
)
from ..models import (
    Package,
)
from . import package_terms

# ---------------------------------------------------------------------------------------------
# Packages


@admin.register(Package)
class PackageAdmin(ArchivableAdmin):
    """Packages are created, then only read and archived: a contract copies them."""

    form = PackageForm
    list_display = [
        "name",
        "rate_card",
        "duration",
        "usage_statement_frequency",
        "contract_count",
        "created_at",
    ]
    list_filter = ["usage_statement_frequency", "rate_card"]
    list_select_related = ["rate_card"]
    search_fields = ["name", "id", "aliases", "rate_card__name"]
    date_hierarchy = "created_at"
    main_fields = [
        "name",
        "rate_card",
        "aliases",
        ("duration_unit", "duration_value"),
        ("usage_statement_frequency", "usage_statement_day"),
        "net_payment_terms_days",
        "multiplier_override_prioritization",
        "contract_name",
        "uniqueness_key",
    ]

    actions = [archive_selected, "create_contract"]
    change_form_template = "admin/catalog/package/change_form.html"

    def archive(self, obj, *, now):
        services.package_archive(package=obj, now=now)

    # "Create contract from this package" opens the contracts' page for it (customers' admin,
    # `customers_contract_from_package`): the offering does not make contracts itself.

    def has_add_contract_permission(self, request) -> bool:
        return request.user.has_perm("customers.add_contract")

    @admin.action(description="Create contract from this package", permissions=["add_contract"])
    def create_contract(self, request, queryset):
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(
                request, "Select exactly one package to create a contract from.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:customers_contract_from_package", args=[chosen[0].pk])
        )

    class Media:
        css = NESTED_MEDIA["css"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_contracts=Count("contracts"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": [*self.main_fields, "terms"]})]
        return [
            (None, {"fields": [*self.main_fields, "created_at", "created_by", "archived_at"]}),
            ("Later contract terms", {"fields": ["later_terms"]}),
            ("Terms (offsets from the contract start)", {"fields": ["terms_display"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["later_terms", "terms_display"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # Existing packages open read-only: they are archived, never edited.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="duration")
    def duration(self, obj) -> str:
        if not obj.duration_unit:
            return "open-ended"
        return f"{obj.duration_value} {obj.get_duration_unit_display().lower()}"

    @admin.display(description="contracts", ordering="_contracts")
    def contract_count(self, obj) -> int:
        return obj._contracts

    @admin.display(description="in words")
    def later_terms(self, obj) -> str:
        lines = package_terms.summaries(obj.terms or {})
        if not lines:
            return (
                "None: no recurring commits or credits, threshold billing, specifiers, "
                "discounts, professional services or reseller royalties."
            )
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((x,) for x in lines))
        )

    @admin.display(description="terms")
    def terms_display(self, obj) -> str:
        return pretty_json(obj.terms)
