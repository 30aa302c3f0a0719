"""Drop the `varchar_pattern_ops` index Django adds beside the dedup ledger's primary key on
PostgreSQL. Nothing searches transaction ids with LIKE (lookups are by equality), and every
ingested event paid for a second B-tree insert into it. The model is unchanged; SQLite has no
such index."""

from django.db import migrations

DROP_LIKE_INDEXES = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN
        SELECT indexname FROM pg_indexes
        WHERE tablename = 'metering_ingestedtransaction' AND indexname LIKE '%\\_like'
    LOOP
        EXECUTE format('DROP INDEX %I', name);
    END LOOP;
END $$;
"""

RESTORE_LIKE_INDEX = """
CREATE INDEX IF NOT EXISTS metering_ingestedtransaction_transaction_id_like
    ON metering_ingestedtransaction (transaction_id varchar_pattern_ops);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_LIKE_INDEXES, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESTORE_LIKE_INDEX, params=None)


class Migration(migrations.Migration):
    dependencies = [("metering", "0002_ingest_dedup_aggregates")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
