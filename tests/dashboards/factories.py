"""Factories for the customer-facing app's models."""

import factory

from dashboards.models import CompanyProfile


class CompanyProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompanyProfile
        django_get_or_create = ("id",)

    id = CompanyProfile.SINGLETON_ID
    name = "Initech Billing LLC"
    address = "500 Market Street\nSan Francisco, CA 94105"
