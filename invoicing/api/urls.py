from django.urls import path

from invoicing.api import breakdowns, contracts, payment_gates, views

urlpatterns = [
    # Before the invoice detail: "breakdowns" would otherwise be read as an invoice id.
    path(
        "v1/customers/<str:customer_id>/invoices/breakdowns",
        breakdowns.CustomerInvoiceBreakdownsView.as_view(),
        name="invoices-breakdowns",
    ),
    path("v1/customers/<str:customer_id>/costs", breakdowns.CustomerCostsView.as_view()),
    path("v1/contracts/getContractRateSchedule", contracts.ContractRateScheduleView.as_view()),
    path("v1/contracts/scheduleProServicesInvoice", contracts.ProServicesInvoiceView.as_view()),
    path("v1/contracts/createHistoricalInvoices", contracts.HistoricalInvoicesView.as_view()),
    path("v1/customers/<str:customer_id>/previewEvents", contracts.PreviewEventsView.as_view()),
    path("v1/contracts/seatBalances/list", contracts.SeatBalancesView.as_view()),
    path(
        "v1/contracts/commits/threshold-billing/release",
        payment_gates.ThresholdBillingReleaseView.as_view(),
    ),
    path(
        "v1/customers/<str:customer_id>/invoices",
        views.CustomerInvoiceListView.as_view(),
        name="invoices-list",
    ),
    path(
        # A uuid converter, so that sibling paths (`invoices/breakdowns`) are not taken for an id.
        "v1/customers/<str:customer_id>/invoices/<uuid:invoice_id>",
        views.CustomerInvoiceDetailView.as_view(),
        name="invoices-detail",
    ),
    path("v1/invoices/void", views.InvoiceVoidView.as_view(), name="invoices-void"),
    path(
        "v1/invoices/regenerate", views.InvoiceRegenerateView.as_view(), name="invoices-regenerate"
    ),
]
