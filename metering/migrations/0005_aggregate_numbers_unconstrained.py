"""The pre-aggregates' numbers become unconstrained `numeric` on PostgreSQL (they were
NUMERIC(38, 12), which rounded values past 12 decimal places and overflowed past 26 digits before
the point). SQLite keeps its decimal text. See `metering.definitions` for the numeric domain."""

from django.db import migrations

COLUMNS = ("value_sum", "value_max", "latest_value")


def _retype(column_type: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name("metering_metricaggregate")
        alter = ", ".join(f"ALTER COLUMN {c} TYPE {column_type}" for c in COLUMNS)
        schema_editor.execute(f"ALTER TABLE {table} {alter}")

    return run


class Migration(migrations.Migration):
    dependencies = [("metering", "0004_usageevent_late_index")]

    operations = [
        migrations.RunPython(_retype("numeric"), _retype("numeric(38, 12)"), elidable=False)
    ]
