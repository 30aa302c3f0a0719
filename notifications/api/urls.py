"""Alerts' and v2 notifications' Metronome-compatible paths (reference 3.10)."""

from django.urls import path

from . import alerts, configs

urlpatterns = [
    path("v1/alerts/create", alerts.AlertCreateView.as_view()),
    path("v1/alerts/archive", alerts.AlertArchiveView.as_view()),
    path("v1/customer-alerts/get", alerts.CustomerAlertGetView.as_view()),
    path("v1/customer-alerts/list", alerts.CustomerAlertListView.as_view()),
    path("v1/customer-alerts/reset", alerts.CustomerAlertResetView.as_view()),
    path("v2/notifications/create", configs.OffsetCreateView.as_view()),
    path("v2/notifications/get", configs.OffsetRetrieveView.as_view()),
    path("v2/notifications/offset/list", configs.OffsetListView.as_view()),
    path("v2/notifications/edit", configs.OffsetEditView.as_view()),
    path("v2/notifications/archive", configs.OffsetArchiveView.as_view()),
    path("v2/notifications/system/list", configs.SystemListView.as_view()),
]
