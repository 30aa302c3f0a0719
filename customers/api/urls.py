"""Customers' and contracts' Metronome-compatible paths (reference sections 3.3, 3.6, 3.9)."""

from django.urls import path

from . import balances, changes, custom_fields, legacy, schedules, seats, views

LEGACY = [
    ("v1/plans", "plans", "v1_plans_list"),
    ("v1/planDetails/<str:plan_id>", "plans", "v1_plans_get_details"),
    ("v1/planDetails/<str:plan_id>/charges", "plans", "v1_plans_list_charges"),
    ("v1/planDetails/<str:plan_id>/customers", "plans", "v1_plans_list_customers"),
    ("v1/customers/<str:customer_id>/plans", "plans", "v1_customers_plans_list"),
    ("v1/customers/<str:customer_id>/plans/add", "plans", "v1_customers_plans_add"),
    (
        "v1/customers/<str:customer_id>/plans/<str:customer_plan_id>/end",
        "plans",
        "v1_customers_plans_end",
    ),
    (
        "v1/customers/<str:customer_id>/plans/<str:customer_plan_id>/priceAdjustments",
        "plans",
        "v1_customers_plans_list_price_adjustments",
    ),
    ("v1/customers/<str:customer_id>/addCharge", "charges", "v1_customers_invoices_add_charge"),
    ("v1/credits/createGrant", "credit_grants", "v1_credit_grants_create"),
    ("v1/credits/editGrant", "credit_grants", "v1_credit_grants_edit"),
    ("v1/credits/listGrants", "credit_grants", "v1_credit_grants_list"),
    ("v1/credits/listEntries", "credit_grants", "v1_credit_grants_list_entries"),
    ("v1/credits/voidGrant", "credit_grants", "v1_credit_grants_void"),
]

urlpatterns = [
    path("v1/customers/getNamedSchedule", schedules.CustomerScheduleGetView.as_view()),
    path("v1/customers/updateNamedSchedule", schedules.CustomerScheduleUpdateView.as_view()),
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
    path(
        "v1/customers/<str:customer_id>/updateConfig",
        schedules.CustomerUpdateConfigView.as_view(),
    ),
    path("v1/contracts/getNamedSchedule", schedules.ContractScheduleGetView.as_view()),
    path("v1/contracts/updateNamedSchedule", schedules.ContractScheduleUpdateView.as_view()),
    path("v1/contracts/listNamedSchedules", schedules.ContractSchedulesListView.as_view()),
    path(
        "v1/contract-pricing/rate-cards/getNamedSchedule",
        schedules.RateCardScheduleGetView.as_view(),
    ),
    path(
        "v1/contract-pricing/rate-cards/updateNamedSchedule",
        schedules.RateCardScheduleUpdateView.as_view(),
    ),
    path("v1/customFields/addKey", custom_fields.AddKeyView.as_view()),
    path("v1/customFields/removeKey", custom_fields.RemoveKeyView.as_view()),
    path("v1/customFields/listKeys", custom_fields.ListKeysView.as_view()),
    path("v1/customFields/setValues", custom_fields.SetValuesView.as_view()),
    path("v1/customFields/deleteValues", custom_fields.DeleteValuesView.as_view()),
    path("v1/services", legacy.ServiceListView.as_view()),
    *(path(route, legacy.legacy_view(kind, name).as_view()) for route, kind, name in LEGACY),
    path("v1/contracts/create", views.ContractCreateView.as_view()),
    path("v1/contracts/get", views.ContractRetrieveView.as_view()),
    path("v1/contracts/list", views.ContractListView.as_view()),
    path("v1/contracts/archive", views.ContractArchiveView.as_view()),
    path("v1/contracts/updateEndDate", views.ContractUpdateEndDateView.as_view()),
    path("v2/contracts/get", views.ContractRetrieveV2View.as_view()),
    path("v2/contracts/list", views.ContractListV2View.as_view()),
    path("v2/contracts/edit", views.ContractEditView.as_view()),
    path("v2/contracts/commits/edit", changes.CommitEditView.as_view()),
    path("v2/contracts/credits/edit", changes.CreditEditView.as_view()),
    path("v2/contracts/getEditHistory", changes.EditHistoryView.as_view()),
    path("v1/contracts/amend", changes.ContractAmendView.as_view()),
    path("v1/contracts/getSubscriptionQuantityHistory", seats.QuantityHistoryView.as_view()),
    path("v1/contracts/getSubscriptionSeatsHistory", seats.SeatsHistoryView.as_view()),
    path("v1/contracts/setUsageFilter", changes.ContractSetUsageFilterView.as_view()),
    path("v1/contracts/customerCommits/updateEndDate", changes.CommitUpdateEndDateView.as_view()),
    path("v1/contracts/customerCredits/updateEndDate", changes.CreditUpdateEndDateView.as_view()),
    path("v1/contracts/customerCommits/create", balances.CustomerCommitCreateView.as_view()),
    path("v1/contracts/customerCommits/list", balances.CustomerCommitListView.as_view()),
    path("v1/contracts/customerCredits/create", balances.CustomerCreditCreateView.as_view()),
    path("v1/contracts/customerCredits/list", balances.CustomerCreditListView.as_view()),
    path("v1/contracts/customerBalances/list", balances.CustomerBalanceListView.as_view()),
    path("v1/contracts/customerBalances/getNetBalance", balances.NetBalanceView.as_view()),
    path("v1/contracts/addManualBalanceLedgerEntry", balances.ManualBalanceEntryView.as_view()),
    path("v1/packages/listContractsOnPackage", views.PackageContractsView.as_view()),
]
