"""Factories for core models."""

from datetime import UTC, datetime

import factory

from core.models import ApiToken, CustomFieldKey, DomainEvent, DomainEventHandling


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A stored token. Pass `raw_token=...` to know the raw value; only its hash is stored."""

    class Meta:
        model = ApiToken

    class Params:
        raw_token = factory.Sequence(lambda n: f"bk_test_token_{n:08d}")

    name = factory.Sequence(lambda n: f"token {n}")
    token_hash = factory.LazyAttribute(lambda o: ApiToken.hash(o.raw_token))
    prefix = factory.LazyAttribute(lambda o: o.raw_token[:10])


class DomainEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DomainEvent

    type = "contract.create"
    subject_id = factory.Sequence(lambda n: f"subject-{n}")
    payload = factory.LazyAttribute(lambda o: {"contract_id": o.subject_id})
    occurred_at = datetime(2026, 1, 1, tzinfo=UTC)


class DomainEventHandlingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DomainEventHandling

    event = factory.SubFactory(DomainEventFactory)
    handler = "invoicing.handlers.contract_created"


class CustomFieldKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldKey

    entity = "customer"
    key = factory.Sequence(lambda n: f"key_{n}")
