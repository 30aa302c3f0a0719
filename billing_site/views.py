"""The project's own views (the API documentation page)."""

from django.http import HttpResponse
from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI over /api/schema/, its start-up script served as a file (`?script`) rather than
    inline, as the Content-Security-Policy requires. OPTIONS answers the allowed methods: DRF's
    default (metadata rendered through the page's HTML renderer, which has no template for it)
    was a 500."""

    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=200)
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response
