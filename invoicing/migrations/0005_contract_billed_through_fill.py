"""Fill customers' new Contract.billed_through from the invoices already finalized: the end of each
contract's latest FINALIZED usage invoice (invoicing keeps it from now on)."""

from django.db import migrations
from django.db.models import Max, OuterRef, Subquery


def fill(apps, schema_editor):
    Contract = apps.get_model("customers", "Contract")
    Invoice = apps.get_model("invoicing", "Invoice")
    latest = (
        Invoice.objects.filter(contract=OuterRef("pk"), status="FINALIZED", type="USAGE")
        .values("contract")
        .annotate(end=Max("end_timestamp"))
        .values("end")
    )
    Contract.objects.update(billed_through=Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0004_scheduled_invoice_single_date"),
        ("customers", "0005_contract_billed_through"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
