"""The embedded dashboards: pages and their JSON behind a signed, expiring URL (`embed`).

No login and no cookie: the token in the path is the only key, and it opens one customer's one
dashboard, read-only (GET only). Every id in a URL is looked up within that customer. The pages
may be framed by the origins `DASHBOARD_FRAME_ANCESTORS` allows (CSP frame-ancestors, on these
pages only; the rest of the site keeps X-Frame-Options DENY)."""

from __future__ import annotations

import functools
from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .document import CUSTOMER
from .embed import Embed, InvalidEmbed, embed_from_token
from .pdf import document_html, document_pdf, pdf_filename
from .selectors import (
    balances_dashboard,
    embed_customer,
    embed_invoice,
    invoice_document_for,
    invoices_dashboard,
    usage_dashboard,
)

TITLES = {
    "invoices": "Invoices",
    "usage": "Usage",
    "commits_and_credits": "Commits and credits",
}


def embed_url(request, path: str) -> str:
    """An absolute URL of `path`: on `DASHBOARD_BASE_URL` when set (behind a proxy), else on
    the host the API was called on."""
    base = getattr(settings, "DASHBOARD_BASE_URL", "")
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


def _protect(response: HttpResponse) -> HttpResponse:
    ancestors = getattr(settings, "DASHBOARD_FRAME_ANCESTORS", "*")
    # The site's CSP (django-csp) stays whole; only its frame-ancestors ('none' elsewhere) opens.
    response._csp_replace = {"frame-ancestors": ancestors.split()}
    # The token is in the URL: it must not travel to other sites or into caches and indexes.
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _refused(request, message: str) -> HttpResponse:
    return _protect(
        render(request, "dashboards/embed/refused.html", {"message": message}, status=403)
    )


def embedded(view):
    """A page of an embedded dashboard: the token checked (403 page if changed or expired),
    the customer resolved, framing allowed for the configured origins."""

    @xframe_options_exempt
    @require_GET
    @functools.wraps(view)
    def wrapper(request, token: str, **kwargs):
        try:
            embed = embed_from_token(token)
        except InvalidEmbed as error:
            return _refused(request, str(error))
        customer = embed_customer(embed)
        if customer is None:
            return _refused(request, "This dashboard's customer no longer exists.")
        try:
            response = view(request, embed, customer, token=token, **kwargs)
        except Http404 as error:
            response = render(
                request, "dashboards/embed/refused.html", {"message": str(error)}, status=404
            )
        return _protect(response)

    return wrapper


def _only(embed: Embed, dashboard: str) -> None:
    if embed.dashboard != dashboard:
        raise Http404("Not part of this dashboard.")


def _period_start(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def dashboard_data(request, embed: Embed, customer, now: datetime) -> dict:
    if embed.dashboard == "invoices":
        return invoices_dashboard(embed=embed, customer=customer, now=now)
    if embed.dashboard == "usage":
        return usage_dashboard(
            embed=embed,
            customer=customer,
            now=now,
            period_start=_period_start(request.GET.get("period")),
        )
    return balances_dashboard(embed=embed, customer=customer, now=now)


@embedded
def dashboard(request, embed: Embed, customer, *, token: str):
    data = dashboard_data(request, embed, customer, timezone.now())
    return render(
        request,
        f"dashboards/embed/{embed.dashboard}.html",
        {
            "embed": embed,
            "token": token,
            "title": TITLES[embed.dashboard],
            "data": data,
            "data_url": reverse("dashboards:embed-data", args=[token]),
        },
    )


@embedded
def invoice_page(request, embed: Embed, customer, *, token: str, invoice_id: str):
    _only(embed, "invoices")
    invoice = embed_invoice(embed=embed, customer=customer, invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    doc = invoice_document_for(
        invoice=invoice,
        now=timezone.now(),
        audience=CUSTOMER,
        zero_lines=embed.flag("show_zero_usage_line_items"),
    )
    actions = [
        {"label": "Back to invoices", "url": reverse("dashboards:embed", args=[token])},
        {
            "label": "Download PDF",
            "url": reverse("dashboards:embed-invoice-pdf", args=[token, invoice.pk]),
        },
    ]
    return HttpResponse(document_html(doc, actions=actions))


@embedded
def invoice_pdf(request, embed: Embed, customer, *, token: str, invoice_id: str):
    _only(embed, "invoices")
    invoice = embed_invoice(embed=embed, customer=customer, invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    doc = invoice_document_for(
        invoice=invoice, now=timezone.now(), zero_lines=embed.flag("show_zero_usage_line_items")
    )
    response = HttpResponse(document_pdf(doc), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(doc)}"'
    return response


@extend_schema(exclude=True)  # read with the page's token, not the API's: not part of the API
class EmbedDataView(APIView):
    """GET /embed/{token}/data.json: what the token's dashboard shows, as JSON (the page embeds
    the same data; this is for refreshing it). 403 for a changed or expired token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request, token: str):
        try:
            embed = embed_from_token(token)
        except InvalidEmbed as error:
            raise exceptions.PermissionDenied(str(error)) from None
        customer = embed_customer(embed)
        if customer is None:
            raise exceptions.PermissionDenied("This dashboard's customer no longer exists.")
        return Response(dashboard_data(request, embed, customer, timezone.now()))

    def finalize_response(self, request, response, *args, **kwargs):
        return _protect(super().finalize_response(request, response, *args, **kwargs))


embed_data = xframe_options_exempt(EmbedDataView.as_view())
