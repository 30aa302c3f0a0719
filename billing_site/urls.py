from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from billing_site.views import ApiDocsView

# A path no route matches answers {"message"} under /v1/, /v2/ and /api/ (Django's page elsewhere).
handler404 = "core.exceptions.api_not_found"

urlpatterns = [
    # Ingest first: it is the hot path, and every pattern tried before it costs each batch.
    path("", include("metering.api.urls")),
    path("", include("billing_site.home_urls")),
    path("admin/", admin.site.urls),
    path("", include("catalog.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("invoicing.api.urls")),
    path("", include("dashboards.api.urls")),
    path("", include("dashboards.urls")),
    path("", include("audit.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("notifications.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
]
