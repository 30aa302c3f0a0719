"""SQL metrics' division on PostgreSQL: `sql_metric_div(a, b)`, the exact quotient rounded once,
half even, to 12 places (NULL when b is 0), as `metering.sql_metrics.functions` describes. SQLite
registers a Python function of the same name on each connection instead."""

from django.db import migrations

# The quotient at 13 places or more (the dividend padded to 13 places; PostgreSQL rounds its
# last place correctly) rounded to 12 is the half-even quotient unless its 13th place on is
# exactly 5: only then (a possible tie) the exact path: the truncated integer quotient of
# a * 10^12 by b, the remainder compared with half of b. Twice as fast as the exact path alone.
CREATE = """
CREATE OR REPLACE FUNCTION sql_metric_div(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN b = 0 THEN NULL
  WHEN abs(mod((a + 0.0000000000000) / b * 1000000000000, 1)) <> 0.5
    THEN round((a + 0.0000000000000) / b, 12)
  ELSE (
    div(a * 1000000000000, b)
    + CASE WHEN 2 * abs(a * 1000000000000 - div(a * 1000000000000, b) * b) > abs(b)
        OR (2 * abs(a * 1000000000000 - div(a * 1000000000000, b) * b) = abs(b)
            AND mod(div(a * 1000000000000, b), 2) <> 0)
      THEN sign(a) * sign(b) ELSE 0 END
  ) * 0.000000000001 END
$$
"""
DROP = "DROP FUNCTION IF EXISTS sql_metric_div(numeric, numeric)"


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0008_usageevent_test_event_permission"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
