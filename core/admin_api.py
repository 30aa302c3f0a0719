"""The admin's JSON endpoints (a chart's data, the metric form's live example): DRF views that
answer like the API, `{"message": "..."}` naming the field for bad input, never an HTML page.

They are read with the admin's own login (its session, staff only) and the view permission of
the model admin that serves them, so a page's script fetches them as the person viewing it.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.views import APIView


@extend_schema(exclude=True)  # the admin's, read with its session: not part of the API
class AdminJsonView(APIView):
    """A GET endpoint of `model_admin` (given to `as_view`), for staff who may view its model."""

    authentication_classes = (SessionAuthentication,)
    permission_classes = (IsAdminUser,)
    model_admin = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not self.model_admin.has_view_permission(request):
            raise exceptions.PermissionDenied(
                f"Viewing {self.model_admin.model._meta.verbose_name_plural} needs the "
                f"{self.model_admin.model._meta.app_label}.view_"
                f"{self.model_admin.model._meta.model_name} permission."
            )
