"""The dedup ledger's indexes on PostgreSQL: its primary key only (migration 0003 drops the
`varchar_pattern_ops` copy Django adds, which every ingested event paid for)."""

import pytest
from django.db import connection

from metering.models import IngestedTransaction

from .conftest import postgres_only


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_dedup_ledger_has_its_primary_key_as_only_index():
    postgres_only("its indexes")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s",
            [IngestedTransaction._meta.db_table],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 1, definitions
    assert "UNIQUE INDEX" in definitions[0] and "(transaction_id)" in definitions[0]
