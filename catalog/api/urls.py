"""The offering's Metronome-compatible paths (reference sections 3.2, 3.4, 3.5, 3.9)."""

from django.urls import path

from . import product_order, views

urlpatterns = [
    path("v1/credit-types/create", views.PricingUnitCreateView.as_view()),
    path("v1/credit-types/list", views.PricingUnitListView.as_view()),
    path("v1/credit-types/archive", views.PricingUnitArchiveView.as_view()),
    path("v1/billable-metrics/create", views.BillableMetricCreateView.as_view()),
    path("v1/billable-metrics/archive", views.BillableMetricArchiveView.as_view()),
    path("v1/billable-metrics", views.BillableMetricListView.as_view()),
    path("v1/billable-metrics/<str:billable_metric_id>", views.BillableMetricDetailView.as_view()),
    path("v1/contract-pricing/products/create", views.ProductCreateView.as_view()),
    path("v1/contract-pricing/products/get", views.ProductRetrieveView.as_view()),
    path("v1/contract-pricing/products/list", views.ProductListView.as_view()),
    path("v1/contract-pricing/products/update", views.ProductUpdateView.as_view()),
    path("v1/contract-pricing/products/archive", views.ProductArchiveView.as_view()),
    path("v1/contract-pricing/rate-cards/create", views.RateCardCreateView.as_view()),
    path("v1/contract-pricing/rate-cards/get", views.RateCardRetrieveView.as_view()),
    path("v1/contract-pricing/rate-cards/list", views.RateCardListView.as_view()),
    path("v1/contract-pricing/rate-cards/update", views.RateCardUpdateView.as_view()),
    path("v1/contract-pricing/rate-cards/archive", views.RateCardArchiveView.as_view()),
    path("v1/contract-pricing/rate-cards/addRate", views.RateAddView.as_view()),
    path("v1/contract-pricing/rate-cards/addRates", views.RatesAddManyView.as_view()),
    path("v1/contract-pricing/rate-cards/getRates", views.RateListView.as_view()),
    path("v1/contract-pricing/rate-cards/getRateSchedule", views.RateScheduleView.as_view()),
    path(
        "v1/contract-pricing/rate-cards/setRateCardProductsOrder",
        product_order.ProductOrderSetView.as_view(),
    ),
    path(
        "v1/contract-pricing/rate-cards/moveRateCardProducts",
        product_order.ProductOrderMoveView.as_view(),
    ),
    path("v1/packages/create", views.PackageCreateView.as_view()),
    path("v1/packages/get", views.PackageRetrieveView.as_view()),
    path("v1/packages/list", views.PackageListView.as_view()),
    path("v1/packages/archive", views.PackageArchiveView.as_view()),
]
