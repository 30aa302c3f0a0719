from django.urls import path

from dashboards.api import views

urlpatterns = [
    path(
        "v1/customers/<str:customer_id>/invoices/<str:invoice_id>/pdf",
        views.InvoicePdfView.as_view(),
        name="invoices-pdf",
    ),
    path(
        "v1/dashboards/getEmbeddableUrl",
        views.EmbeddableUrlView.as_view(),
        name="dashboards-embeddable-url",
    ),
]
