from django.urls import path

from .ingest import IngestView

urlpatterns = [
    path("v1/ingest", IngestView.as_view(), name="v1-ingest"),
]
