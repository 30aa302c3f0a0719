"""Revenue system configurations on the customer page (read-only: they come from customer
create over the API) and, on the contract page, the billing provider and revenue system
configurations the contract uses over time (a v2 edit may switch either from a period on).
Nothing is sent to a revenue system: the page says so."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from ..models import Contract, ContractConfigurationChange, RevenueSystemConfiguration
from ..selectors import contract_configuration_schedule

Kind = ContractConfigurationChange.Kind


class RevenueSystemConfigurationInline(admin.TabularInline):
    """The customer's records in a revenue system (NetSuite), as given on customer create."""

    model = RevenueSystemConfiguration
    extra = 0
    can_delete = False
    fields = [
        "provider",
        "delivery_method",
        "delivery_method_id",
        "configuration",
        "created_at",
        "archived_at",
    ]
    readonly_fields = fields
    verbose_name_plural = (
        "revenue system configurations (stored and carried in finalized invoices' events for "
        "an integration; nothing is sent to the revenue system from here)"
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _described(configuration) -> str:
    if configuration is None:
        return "None"
    if isinstance(configuration, RevenueSystemConfiguration):
        ids = ", ".join(f"{k}: {v}" for k, v in sorted((configuration.configuration or {}).items()))
        return f"{configuration}" + (f" ({ids})" if ids else "")
    return str(configuration)


def configurations_panel(contract: Contract) -> str:
    """A table of the contract's billing provider and revenue system configurations, each from
    its start until the next."""
    rows = [
        (
            title,
            _described(entry.configuration),
            f"{entry.effective_at:%Y-%m-%d %H:%M}",
            f"{entry.effective_until:%Y-%m-%d %H:%M}" if entry.effective_until else "—",
        )
        for kind, title in (
            (Kind.BILLING_PROVIDER, "Billing provider"),
            (Kind.REVENUE_SYSTEM, "Revenue system"),
        )
        for entry in contract_configuration_schedule(contract=contract, kind=kind)
    ]
    if not rows:
        return "No billing provider or revenue system configuration."
    return format_html(
        "<table><thead><tr><th>Kind</th><th>Configuration</th><th>From</th><th>Until</th></tr>"
        "</thead><tbody>{}</tbody></table>",
        format_html_join(
            "",
            '<tr><td data-label="Kind">{}</td><td data-label="Configuration">{}</td>'
            '<td data-label="From">{}</td><td data-label="Until">{}</td></tr>',
            rows,
        ),
    )
