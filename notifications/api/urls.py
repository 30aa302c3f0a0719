"""Alerts' and v2 notifications' Metronome-compatible paths (reference 3.10)."""

from django.urls import path

from . import views

urlpatterns = [
    path("v1/alerts/create", views.AlertCreateView.as_view()),
    path("v1/alerts/archive", views.AlertArchiveView.as_view()),
    path("v1/customer-alerts/get", views.CustomerAlertGetView.as_view()),
    path("v1/customer-alerts/list", views.CustomerAlertListView.as_view()),
    path("v1/customer-alerts/reset", views.CustomerAlertResetView.as_view()),
    path("v2/notifications/create", views.OffsetCreateView.as_view()),
    path("v2/notifications/get", views.OffsetRetrieveView.as_view()),
    path("v2/notifications/offset/list", views.OffsetListView.as_view()),
    path("v2/notifications/edit", views.OffsetEditView.as_view()),
    path("v2/notifications/archive", views.OffsetArchiveView.as_view()),
    path("v2/notifications/system/list", views.SystemListView.as_view()),
]
