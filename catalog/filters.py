"""Query-string filters of the offering's GET lists (django-filter)."""

import django_filters

from .models import BillableMetric


class BillableMetricFilter(django_filters.FilterSet):
    """`include_archived=true` shows archived metrics too (hidden by default)."""

    include_archived = django_filters.BooleanFilter(method="filter_include_archived")

    class Meta:
        model = BillableMetric
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("include_archived"):
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_include_archived(self, queryset, name, value):
        return queryset
