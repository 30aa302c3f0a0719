from django.db import migrations


class Migration(migrations.Migration):
    """Rename the table to core's own name, now that billing_site no longer claims it."""

    dependencies = [
        ("core", "0001_apitoken_from_billing_site"),
        ("billing_site", "0002_apitoken_to_core"),
    ]

    operations = [migrations.AlterModelTable(name="ApiToken", table=None)]
