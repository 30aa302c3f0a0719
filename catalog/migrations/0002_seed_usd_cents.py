from django.db import migrations

USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def seed(apps, schema_editor):
    PricingUnit = apps.get_model("catalog", "PricingUnit")
    PricingUnit.objects.update_or_create(
        id=USD_CENTS_ID,
        defaults={"name": "USD (cents)", "is_currency": True, "decimal_places": 0},
    )


def unseed(apps, schema_editor):
    apps.get_model("catalog", "PricingUnit").objects.filter(id=USD_CENTS_ID).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
