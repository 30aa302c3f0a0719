"""ApiToken now belongs to core (core 0001 took it over, table and rows included): forget it here
without touching the table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing_site", "0001_initial"),
        ("core", "0001_apitoken_from_billing_site"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
