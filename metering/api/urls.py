from django.urls import path

from .ingest import IngestView
from .search import EventsSearchView
from .usage import UsageGroupsView, UsageListView

urlpatterns = [
    path("v1/ingest", IngestView.as_view(), name="v1-ingest"),
    path("v1/usage", UsageListView.as_view(), name="v1-usage"),
    path("v1/usage/groups", UsageGroupsView.as_view(), name="v1-usage-groups"),
    path("v1/events/search", EventsSearchView.as_view(), name="v1-events-search"),
]
