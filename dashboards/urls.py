from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("embed/<str:token>/", views.dashboard, name="embed"),
    path("embed/<str:token>/data.json", views.embed_data, name="embed-data"),
    path(
        "embed/<str:token>/invoices/<str:invoice_id>/",
        views.invoice_page,
        name="embed-invoice",
    ),
    path(
        "embed/<str:token>/invoices/<str:invoice_id>.pdf",
        views.invoice_pdf,
        name="embed-invoice-pdf",
    ),
]
