"""What the audit trail records: every create, change and delete of the offering, customers,
contracts and their terms, invoices' state, and API tokens.

Each model is named by app label and model name (as the admin's sections are), with the fields
left out: derived keys, timestamps the model keeps itself, and secrets (a token's hash). Invoices
are recorded for their state only (lines and totals are frozen data, not edits); finalization
writes its rows in one batch statement, so it is recorded from the `invoice.finalized` event
(`audit.handlers`).
"""

from auditlog.registry import auditlog
from django.apps import apps

# (app label, model name): {"exclude": [...], "include": [...], "m2m": [...]}
AUDITED = {
    ("catalog", "pricingunit"): {},
    ("catalog", "billablemetric"): {},
    ("catalog", "product"): {"m2m": ["composite_products"]},
    ("catalog", "productupdate"): {},
    ("catalog", "ratecard"): {},
    ("catalog", "ratecardalias"): {},
    ("catalog", "credittypeconversion"): {},
    ("catalog", "rate"): {"exclude": ["pricing_group_values_key"]},
    ("catalog", "ratetier"): {},
    ("catalog", "package"): {},
    ("customers", "customer"): {"exclude": ["updated_at"]},
    ("customers", "ingestalias"): {},
    ("customers", "contract"): {"exclude": ["billed_through"]},
    ("customers", "contractedit"): {},
    ("customers", "contracttransition"): {},
    ("customers", "commit"): {"m2m": ["applicable_products", "applicable_contracts"]},
    ("customers", "credit"): {"m2m": ["applicable_products", "applicable_contracts"]},
    ("customers", "accesssegment"): {},
    ("customers", "commitinvoiceitem"): {},
    ("customers", "override"): {},
    ("customers", "overridetier"): {},
    ("customers", "scheduledcharge"): {},
    ("customers", "scheduledchargeitem"): {},
    ("customers", "subscription"): {},
    ("customers", "resellerroyalty"): {},
    ("customers", "spendtracker"): {},
    ("customers", "revenuesystemconfiguration"): {},
    ("customers", "contractconfigurationchange"): {},
    ("invoicing", "invoice"): {"include": ["status", "number", "issued_at", "voided_at"]},
    ("core", "apitoken"): {"exclude": ["token_hash", "last_used_at"]},
}


def register_all() -> None:
    for (app_label, model_name), options in AUDITED.items():
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:  # an app not installed in this project
            continue
        if auditlog.contains(model):
            continue
        exclude = options.get("exclude", [])
        # Named explicitly: on a create auditlog would otherwise read every relation too, and
        # reading a missing reverse one-to-one caches "none" on the instance being saved.
        include = options.get("include") or [
            field.name for field in model._meta.concrete_fields if field.name not in exclude
        ]
        auditlog.register(model, include_fields=include, m2m_fields=set(options.get("m2m", [])))


register_all()
