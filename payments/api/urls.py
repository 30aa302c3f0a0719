"""Billing provider paths (Metronome's) and Stripe's webhook."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "v1/customers/<str:customer_id>/billing-config/<str:billing_provider_type>",
        views.CustomerBillingConfigView.as_view(),
    ),
    path(
        "v1/setCustomerBillingProviderConfigurations",
        views.SetCustomerBillingConfigurationsView.as_view(),
    ),
    path(
        "v1/getCustomerBillingProviderConfigurations",
        views.GetCustomerBillingConfigurationsView.as_view(),
    ),
    path(
        "v1/archiveCustomerBillingProviderConfigurations",
        views.ArchiveCustomerBillingConfigurationsView.as_view(),
    ),
    path("v1/setUpBillingProvider", views.SetUpBillingProviderView.as_view()),
    path("v1/listConfiguredBillingProviders", views.ListConfiguredBillingProvidersView.as_view()),
    path("webhooks/stripe", views.StripeWebhookView.as_view(), name="stripe-webhook"),
]
