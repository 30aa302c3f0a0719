"""customers 0007: overrides stored before `tags_match` existed. Tags that came with group
values or commits came from an override specifier (the top level has neither), so they now name
products with all of them; tags alone stay any-of, as they were priced."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers.models import Override

BEFORE = [
    ("customers", "0006_billing_provider_configurations"),
    # The catalog as it was then too (a later catalog column would be missing from old models).
    ("catalog", "0004_composite_minimum_scope_tiered_percentage"),
]


@pytest.mark.django_db(transaction=True)
def test_overrides_from_a_specifier_keep_needing_all_their_tags():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        unit, _ = apps.get_model("catalog", "PricingUnit").objects.get_or_create(
            name="USD (cents)", defaults={"is_currency": True, "decimal_places": 0}
        )
        card = apps.get_model("catalog", "RateCard").objects.create(
            name="Card", fiat_credit_type=unit
        )
        customer = apps.get_model("customers", "Customer").objects.create(name="Acme")
        contract = apps.get_model("customers", "Contract").objects.create(
            customer=customer, rate_card=card, starting_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        old = apps.get_model("customers", "Override")
        common = {"contract": contract, "starting_at": datetime(2026, 1, 1, tzinfo=UTC)}
        narrowed = old.objects.create(
            **common,
            multiplier=1,
            applicable_product_tags=["gpu", "inference"],
            pricing_group_values={"region": "eu"},
        )
        tags_only = old.objects.create(**common, multiplier=1, applicable_product_tags=["gpu"])

        MigrationExecutor(connection).migrate(latest)

        assert Override.objects.get(pk=narrowed.pk).tags_match == "ALL"
        assert Override.objects.get(pk=tags_only.pk).tags_match == "ANY"
    finally:
        MigrationExecutor(connection).migrate(latest)
