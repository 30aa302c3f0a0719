"""A database made before the layers change (ApiToken in billing_site, no outbox, no
Contract.billed_through) migrates to today's layout with `migrate` and keeps every row."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.models import ApiToken
from customers.models import Contract

# The migration state of main before the layers change.
BEFORE = [
    ("billing_site", "0001_initial"),
    ("catalog", "0003_product_updates_package_contract_name"),
    ("core", None),
    ("customers", "0004_transitions_rollover"),
    ("invoicing", "0004_scheduled_invoice_single_date"),
]


def _row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
        return counts


def _seed_old_world(apps) -> dict:
    """Rows made through the old models: a token, a customer with a contract, two finalized
    invoices and a draft."""
    token = apps.get_model("billing_site", "ApiToken").objects.create(
        name="old", token_hash="f" * 64, prefix="bk_oldtoken"
    )
    unit, _ = apps.get_model("catalog", "PricingUnit").objects.get_or_create(
        name="USD (cents)", defaults={"is_currency": True, "decimal_places": 0}
    )
    card = apps.get_model("catalog", "RateCard").objects.create(name="Card", fiat_credit_type=unit)
    customer = apps.get_model("customers", "Customer").objects.create(name="Old customer")
    contract = apps.get_model("customers", "Contract").objects.create(
        customer=customer, rate_card=card, starting_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    invoice = apps.get_model("invoicing", "Invoice")
    for number, (start, end, status) in enumerate(
        [
            (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), "FINALIZED"),
            (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "FINALIZED"),
            (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "DRAFT"),
        ],
        start=1,
    ):
        invoice.objects.create(
            customer=customer,
            contract=contract,
            credit_type=unit,
            type="USAGE",
            status=status,
            number=number if status == "FINALIZED" else None,
            issued_at=end if status == "FINALIZED" else None,
            start_timestamp=start,
            end_timestamp=end,
        )
    return {"token": token.pk, "contract": contract.pk}


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_previous_layout_migrates_and_keeps_every_row():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        old_nodes = [node for node in BEFORE if node[1] is not None]
        old_apps = MigrationExecutor(connection).loader.project_state(old_nodes).apps
        ids = _seed_old_world(old_apps)
        before = _row_counts()
        assert "billing_site_apitoken" in before

        call_command("migrate", verbosity=0)

        after = _row_counts()
    finally:
        MigrationExecutor(connection).migrate(latest)

    token = ApiToken.objects.get(pk=ids["token"])
    assert (token.name, token.token_hash, token.prefix) == ("old", "f" * 64, "bk_oldtoken")
    assert Contract.objects.get(pk=ids["contract"]).billed_through == datetime(
        2026, 3, 1, tzinfo=UTC
    )
    # Every table keeps its rows; the token table only changed its name (and django_migrations
    # gained the new migrations).
    assert after.pop("core_apitoken") == before.pop("billing_site_apitoken")
    assert after.pop("django_migrations") > before.pop("django_migrations")
    # Content types and permissions are derived by `migrate` for the apps it finds (a swapped-out
    # model such as auditlog's may gain its row), and the role groups are made by a migration
    # unapplied above; they hold no one's data.
    for derived in (
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
    ):
        before.pop(derived), after.pop(derived)
    changed = {table: (before[table], after.get(table)) for table in before}
    assert {table: counts for table, counts in changed.items() if counts[0] != counts[1]} == {}
