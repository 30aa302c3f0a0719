"""Customers' and contracts' Metronome-compatible paths (reference sections 3.3, 3.6, 3.9)."""

from django.urls import path

from . import balances, custom_fields, views

urlpatterns = [
    path("v1/customers", views.CustomerCollectionView.as_view()),
    path("v1/customers/archive", views.CustomerArchiveView.as_view()),
    path("v1/customers/<str:customer_id>", views.CustomerDetailView.as_view()),
    path(
        "v1/customers/<str:customer_id>/billable-metrics",
        views.CustomerBillableMetricsView.as_view(),
    ),
    path(
        "v1/customers/<str:customer_id>/setIngestAliases",
        views.CustomerSetIngestAliasesView.as_view(),
    ),
    path("v1/customers/<str:customer_id>/setName", views.CustomerSetNameView.as_view()),
    path("v1/contracts/create", views.ContractCreateView.as_view()),
    path("v1/contracts/get", views.ContractRetrieveView.as_view()),
    path("v1/contracts/list", views.ContractListView.as_view()),
    path("v1/contracts/archive", views.ContractArchiveView.as_view()),
    path("v1/contracts/updateEndDate", views.ContractUpdateEndDateView.as_view()),
    path("v2/contracts/get", views.ContractRetrieveV2View.as_view()),
    path("v2/contracts/list", views.ContractListV2View.as_view()),
    path("v2/contracts/edit", views.ContractEditView.as_view()),
    path("v1/contracts/customerCommits/create", balances.CustomerCommitCreateView.as_view()),
    path("v1/contracts/customerCommits/list", balances.CustomerCommitListView.as_view()),
    path("v1/contracts/customerCredits/create", balances.CustomerCreditCreateView.as_view()),
    path("v1/contracts/customerCredits/list", balances.CustomerCreditListView.as_view()),
    path("v1/contracts/customerBalances/list", balances.CustomerBalanceListView.as_view()),
    path("v1/contracts/customerBalances/getNetBalance", balances.NetBalanceView.as_view()),
    path("v1/contracts/addManualBalanceLedgerEntry", balances.ManualBalanceEntryView.as_view()),
    path("v1/packages/listContractsOnPackage", views.PackageContractsView.as_view()),
    path("v1/customFields/setValues", custom_fields.CustomFieldSetValuesView.as_view()),
    path("v1/customFields/deleteValues", custom_fields.CustomFieldDeleteValuesView.as_view()),
]
