"""Query-string filters of the customers list (django-filter)."""

import uuid

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from .models import Customer


class CommaSeparatedUUIDs(forms.Field):
    """`customer_ids=a,b` (the SDK's comma format), at most 100 UUIDs."""

    def to_python(self, value):
        if not value:
            return []
        items = [item.strip() for item in str(value).split(",") if item.strip()]
        if len(items) > 100:
            raise ValidationError("Give at most 100 customer ids.")
        try:
            return [uuid.UUID(item) for item in items]
        except ValueError:
            raise ValidationError("Must be a comma-separated list of UUIDs.") from None


class CommaSeparatedUUIDFilter(django_filters.Filter):
    field_class = CommaSeparatedUUIDs


class CommaSeparatedStrings(forms.Field):
    def to_python(self, value):
        return [item.strip() for item in str(value or "").split(",") if item.strip()]


class CommaSeparatedStringFilter(django_filters.Filter):
    field_class = CommaSeparatedStrings


class CustomerFilter(django_filters.FilterSet):
    """Active customers by default; `only_archived=true` lists the archived ones instead."""

    customer_ids = CommaSeparatedUUIDFilter(method="filter_customer_ids")
    ingest_alias = django_filters.CharFilter(field_name="ingest_aliases__alias")
    only_archived = django_filters.BooleanFilter(method="filter_only_archived")
    salesforce_account_ids = CommaSeparatedStringFilter(method="filter_salesforce_account_ids")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("only_archived"):
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_customer_ids(self, queryset, name, value):
        return queryset.filter(pk__in=value) if value else queryset

    def filter_only_archived(self, queryset, name, value):
        return queryset.filter(archived_at__isnull=False) if value else queryset

    def filter_salesforce_account_ids(self, queryset, name, value):
        return queryset.filter(salesforce_account_id__in=value) if value else queryset
