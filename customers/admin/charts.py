"""Charts on the customer and contract pages: one JSON endpoint per chart (usage by day per
pricing group values for a product; spend so far against the previous period; DRF views that
answer bad input with a 4xx `{"message"}`), drawn by the
reusable Chart.js component in static/charts/billing_charts.js.

The chart data is invoicing's (`invoicing.selectors.charts`), imported inside the functions as
the other panels do.
"""

from __future__ import annotations

from datetime import datetime

from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from catalog.models import Product
from core.admin_api import AdminJsonView
from core.api import get_or_404

from ..models import Contract

CHART_MEDIA_JS = ["charts/chart.umd.min.js", "charts/billing_charts.js"]
PRODUCTS_SHOWN = 6


def chart_urls(model_admin) -> list:
    return [
        path(
            "<uuid:contract_id>/charts/usage.json",
            UsageChartView.as_view(model_admin=model_admin),
            name="customers_contract_chart_usage",
        ),
        path(
            "<uuid:contract_id>/charts/spend.json",
            SpendChartView.as_view(model_admin=model_admin),
            name="customers_contract_chart_spend",
        ),
    ]


def _contract(contract_id) -> Contract:
    return get_or_404(
        Contract.objects.select_related("customer", "rate_card__fiat_credit_type"),
        contract_id,
        field="contract_id",
        label="contract",
    )


class UsageChartView(AdminJsonView):
    """GET ...?product=<id>: the product's usage by day, stacked by pricing group values."""

    def get(self, request, contract_id):
        from invoicing.selectors import contract_usage_by_day

        contract = _contract(contract_id)
        product_id = request.query_params.get("product")
        if not product_id:
            raise exceptions.ValidationError({"product": "Give the id of a usage product."})
        product = get_or_404(
            Product.objects.filter(type=Product.Type.USAGE).select_related("billable_metric"),
            product_id,
            field="product",
            label="usage product",
        )
        chart = contract_usage_by_day(contract=contract, product=product, now=timezone.now())
        return Response(chart.as_json())


class SpendChartView(AdminJsonView):
    """GET: spend so far this period, day by day, against the previous period."""

    def get(self, request, contract_id):
        from invoicing.selectors import contract_spend_to_date

        chart = contract_spend_to_date(contract=_contract(contract_id), now=timezone.now())
        return Response(chart.as_json())


def charts_panel(contract: Contract, *, now: datetime) -> str:
    """The canvases for one contract: spend, then usage of each usage product of its rate card
    that has a rate (at most PRODUCTS_SHOWN)."""
    products = list(
        Product.objects.filter(type=Product.Type.USAGE, rates__rate_card_id=contract.rate_card_id)
        .distinct()
        .order_by("name")[:PRODUCTS_SHOWN]
    )
    usage_url = reverse("admin:customers_contract_chart_usage", args=[contract.pk])
    return render_to_string(
        "admin/customers/includes/charts_panel.html",
        {
            "contract": contract,
            "spend_url": reverse("admin:customers_contract_chart_spend", args=[contract.pk]),
            "usage": [(product, f"{usage_url}?product={product.pk}") for product in products],
        },
    )
