# A scheduled invoice has one date: start_timestamp = end_timestamp is allowed for it.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0003_line_commit_segment"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_period_positive",
        ),
        migrations.AlterField(
            model_name="invoice",
            name="end_timestamp",
            field=models.DateTimeField(
                help_text="End of the billing period (exclusive); a scheduled invoice's date."
            ),
        ),
        migrations.AlterField(
            model_name="invoice",
            name="start_timestamp",
            field=models.DateTimeField(
                help_text="Start of the billing period (inclusive); a scheduled invoice's date."
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("end_timestamp__gt", models.F("start_timestamp")),
                    models.Q(("end_timestamp", models.F("start_timestamp")), ("type", "SCHEDULED")),
                    _connector="OR",
                ),
                name="invoice_period_positive",
                violation_error_message="The period must end after it starts (a scheduled invoice: on its date).",
            ),
        ),
    ]
