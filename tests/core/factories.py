"""Factories for core models."""

import factory

from core.models import ApiToken


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A stored token. Pass `raw_token=...` to know the raw value; only its hash is stored."""

    class Meta:
        model = ApiToken

    class Params:
        raw_token = factory.Sequence(lambda n: f"bk_test_token_{n:08d}")

    name = factory.Sequence(lambda n: f"token {n}")
    token_hash = factory.LazyAttribute(lambda o: ApiToken.hash(o.raw_token))
    prefix = factory.LazyAttribute(lambda o: o.raw_token[:10])
