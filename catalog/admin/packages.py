"""Packages in the admin: created, then read and archived (a contract copies them)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

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

    # --- "Create contract from this package" -------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<uuid:package_id>/create-contract/",
                self.admin_site.admin_view(self.create_contract_view),
                name="catalog_package_create_contract",
            )
        ]
        return own + super().get_urls()

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
            reverse("admin:catalog_package_create_contract", args=[chosen[0].pk])
        )

    def create_contract_view(self, request, package_id):
        """A contract copying the package (the same service as the API's contract create with
        package_id), then its page; the service's refusals are shown on the form."""
        from customers import services as customer_services
        from customers.forms import ContractFromPackageForm

        package = get_object_or_404(Package, pk=package_id)
        if not self.has_view_permission(request, package) or not self.has_add_contract_permission(
            request
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
                contract = customer_services.contract_create_from_package(
                    customer=form.cleaned_data["customer"],
                    package=package,
                    starting_at=form.cleaned_data["starting_at"],
                    now=timezone.now(),
                    uniqueness_key=form.cleaned_data["uniqueness_key"] or None,
                    created_by=request.user.get_username() or "admin",
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
            "opts": self.opts,
            "original": package,
            "package": package,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/catalog/package/create_contract.html", context)

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
            ("Terms (offsets from the contract start)", {"fields": ["terms_display"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["terms_display"] if obj is not None else []

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

    @admin.display(description="terms")
    def terms_display(self, obj) -> str:
        return pretty_json(obj.terms)
