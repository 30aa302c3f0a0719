"""Every catalog and customers model has a factory, and what it makes passes the model's rules."""

import pytest
from django.apps import apps

from tests.catalog import factories as catalog_factories
from tests.customers import factories as customers_factories

pytestmark = pytest.mark.django_db

MODULES = {"catalog": catalog_factories, "customers": customers_factories}
MODELS = [
    model
    for app_label in MODULES
    for model in apps.get_app_config(app_label).get_models()
    if not model._meta.auto_created
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_every_model_has_a_factory_making_a_valid_row(model):
    factory = getattr(MODULES[model._meta.app_label], f"{model.__name__}Factory", None)
    assert factory is not None, f"add {model.__name__}Factory to tests/{model._meta.app_label}"

    obj = factory()

    obj.full_clean()
    assert obj.pk is not None
