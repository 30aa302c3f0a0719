"""Charts on the customer and contract pages: one JSON endpoint per chart (usage by day per
pricing group values for a product; spend so far against the previous period), drawn by the
reusable Chart.js component in static/charts/billing_charts.js.

The chart data is invoicing's (`invoicing.selectors.charts`), imported inside the functions as
the other panels do.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone

from catalog.models import Product

from ..models import Contract

CHART_MEDIA_JS = ["charts/chart.umd.min.js", "charts/billing_charts.js"]
PRODUCTS_SHOWN = 6


def chart_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "<uuid:contract_id>/charts/usage.json",
            wrap(lambda request, contract_id: usage_chart_view(model_admin, request, contract_id)),
            name="customers_contract_chart_usage",
        ),
        path(
            "<uuid:contract_id>/charts/spend.json",
            wrap(lambda request, contract_id: spend_chart_view(model_admin, request, contract_id)),
            name="customers_contract_chart_spend",
        ),
    ]


def _contract(model_admin, request, contract_id) -> Contract:
    contract = get_object_or_404(
        Contract.objects.select_related("customer", "rate_card__fiat_credit_type"), pk=contract_id
    )
    if not model_admin.has_view_permission(request, contract):
        raise PermissionDenied
    return contract


def usage_chart_view(model_admin, request, contract_id):
    """GET ...?product=<id>: the product's usage by day, stacked by pricing group values."""
    from invoicing.selectors import contract_usage_by_day

    contract = _contract(model_admin, request, contract_id)
    product_id = request.GET.get("product", "")
    product = None
    if _is_uuid(product_id):
        product = (
            Product.objects.filter(pk=product_id, type=Product.Type.USAGE)
            .select_related("billable_metric")
            .first()
        )
    if product is None:
        raise Http404("Give ?product=<id> of a usage product.")
    chart = contract_usage_by_day(contract=contract, product=product, now=timezone.now())
    return JsonResponse(chart.as_json())


def spend_chart_view(model_admin, request, contract_id):
    """GET: spend so far this period, day by day, against the previous period."""
    from invoicing.selectors import contract_spend_to_date

    contract = _contract(model_admin, request, contract_id)
    chart = contract_spend_to_date(contract=contract, now=timezone.now())
    return JsonResponse(chart.as_json())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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
