from django.urls import path

from dashboards.api import views

urlpatterns = [
    path(
        "v1/customers/<str:customer_id>/invoices/<str:invoice_id>/pdf",
        views.InvoicePdfView.as_view(),
        name="invoices-pdf",
    ),
]
