"""The admin site: a finance desk grouped as Offering, Customers and Developers instead of per app,
with the task tables and user accounts under System, for superusers only.

A model joins a section by app label and model name (`SECTIONS`; `None` as the model name places
every model of that app, e.g. `("notifications", None)`). A model named in no section goes to
System. Breadcrumbs name the section (`section_of`, used by the templates through the
`admin_sections` tag) and `/admin/<app_label>/` opens the section that app's models are in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse


@dataclass(frozen=True)
class Section:
    name: str
    slug: str
    members: tuple[tuple[str, str | None], ...]
    superusers_only: bool = False


# In the order finance staff work through them.
SECTIONS = [
    Section(
        "Offering",
        "offering",
        (
            ("catalog", "billablemetric"),
            ("catalog", "product"),
            ("catalog", "ratecard"),
            ("catalog", "package"),
            ("catalog", "pricingunit"),
        ),
    ),
    Section(
        "Customers",
        "customers",
        (
            ("customers", "customer"),
            ("customers", "contract"),
            ("invoicing", "invoice"),
            ("dashboards", "companyprofile"),
            ("customers", "discount"),
            ("customers", "professionalservice"),
            ("customers", "recurringbalance"),
            ("customers", "contractusagefilter"),
            ("customers", "namedschedulesegment"),
            ("customers", "commit"),
            ("customers", "credit"),
        ),
    ),
    Section(
        "Getting paid",
        "getting-paid",
        (
            ("payments", "billingproviderconnection"),
            ("payments", "invoicepayment"),
            ("customers", "paymentgate"),
            ("payments", "providerevent"),
        ),
    ),
    Section(
        "Developers",
        "developers",
        (
            ("core", "apitoken"),
            ("notifications", "webhookendpoint"),
            ("notifications", "webhookdelivery"),
            ("notifications", "alert"),
            ("notifications", None),
            ("metering", "usageevent"),
            ("core", "domainevent"),
        ),
    ),
    Section("Audit trail", "audit", (("audit", "auditentry"),)),
    Section("System", "system", (), superusers_only=True),
]
SYSTEM = SECTIONS[-1]


def section_of(app_label: str, model_name: str | None = None) -> Section:
    """The section a model (or, without a model name, an app's first placed model) is shown in."""
    for section in SECTIONS:
        for member_app, member_model in section.members:
            if member_app != app_label:
                continue
            if model_name is None or member_model in (None, model_name):
                return section
    return SYSTEM


class BillingAdminSite(admin.AdminSite):
    site_header = "Billing"
    site_title = "Billing admin"
    index_title = "Finance desk"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        return self.sections(request, apps)

    def sections(self, request, apps=None) -> list[dict]:
        apps = super().get_app_list(request) if apps is None else apps
        grouped: dict[str, list[dict]] = {section.slug: [] for section in SECTIONS}
        for app in apps:
            for model in app["models"]:
                section = section_of(app["app_label"], model["object_name"].lower())
                grouped[section.slug].append((self._position(section, app, model), model))
        result = []
        for index, section in enumerate(SECTIONS):
            if section.superusers_only and not request.user.is_superuser:
                continue
            models = [model for _, model in sorted(grouped[section.slug], key=lambda p: p[0])]
            if not models:
                continue
            result.append(
                {
                    "name": section.name,
                    "app_label": section.slug,
                    "app_url": reverse("admin:section", args=[section.slug]),
                    "has_module_perms": True,
                    "models": models,
                    "section_index": index,
                }
            )
        return result

    @staticmethod
    def _position(section: Section, app: dict, model: dict) -> tuple:
        key = (app["app_label"], model["object_name"].lower())
        for position, (member_app, member_model) in enumerate(section.members):
            if member_app == key[0] and member_model in (None, key[1]):
                return (position, model["name"])
        return (len(section.members), model["name"])

    def get_urls(self):
        return [
            path("section/<slug:slug>/", self.admin_view(self.section_view), name="section"),
            *super().get_urls(),
        ]

    def section_view(self, request, slug: str):
        section = next((s for s in SECTIONS if s.slug == slug), None)
        if section is None:
            raise Http404("No such section.")
        if section.superusers_only and not request.user.is_superuser:
            raise PermissionDenied
        found = [app for app in self.sections(request) if app["app_label"] == slug]
        if not found:
            raise PermissionDenied
        context = {
            **self.each_context(request),
            "title": section.name,
            "subtitle": None,
            "app_list": found,
            "app_label": slug,
        }
        return TemplateResponse(request, "admin/section_index.html", context)

    def app_index(self, request, app_label, extra_context=None):
        """An app's index is the section its models are shown in."""
        section = section_of(app_label)
        return HttpResponseRedirect(reverse("admin:section", args=[section.slug]))
