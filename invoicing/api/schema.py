"""OpenAPI descriptions of the invoice endpoints' bodies (documentation only).

The responses are built by `invoicing.api.serializers.invoice_data`; these serializers describe
that shape for drf-spectacular so the schema shows every field, not a free-form object.
"""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.api import page_parameters


class CreditTypeDoc(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TierDoc(serializers.Serializer):
    level = serializers.IntegerField()
    starting_at = serializers.CharField(help_text="Decimal string: the tier's first unit.")
    size = serializers.CharField(allow_null=True, help_text="Decimal string; null when open-ended.")


class AppliedCommitOrCreditDoc(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=["PREPAID", "POSTPAID", "CREDIT"])


class PartyDoc(serializers.Serializer):
    contract_id = serializers.UUIDField()
    customer_id = serializers.UUIDField()


class ConstituentDoc(PartyDoc):
    invoice_id = serializers.UUIDField()


class OriginDoc(ConstituentDoc):
    line_item_id = serializers.UUIDField()


class LineItemDoc(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(
        choices=[
            "usage",
            "subscription",
            "scheduled",
            "commit_purchase",
            "applied_commit_or_credit",
            "cpu_conversion",
            "postpaid_trueup",
        ]
    )
    credit_type = CreditTypeDoc()
    total = serializers.DecimalField(max_digits=38, decimal_places=12, coerce_to_string=False)
    starting_at = serializers.DateTimeField(required=False)
    ending_before = serializers.DateTimeField(required=False)
    is_prorated = serializers.BooleanField(required=False)
    product_id = serializers.UUIDField(required=False)
    product_type = serializers.CharField(required=False)
    quantity = serializers.DecimalField(
        max_digits=38, decimal_places=12, coerce_to_string=False, required=False
    )
    unit_price = serializers.DecimalField(
        max_digits=38, decimal_places=12, coerce_to_string=False, required=False
    )
    group_key = serializers.CharField(required=False)
    group_value = serializers.CharField(required=False, allow_null=True)
    pricing_group_values = serializers.DictField(child=serializers.CharField(), required=False)
    presentation_group_values = serializers.DictField(child=serializers.CharField(), required=False)
    tier = TierDoc(required=False)
    origin = OriginDoc(
        required=False,
        help_text="On a USAGE_CONSOLIDATED invoice: the constituent line it was copied from.",
    )
    subscription_id = serializers.UUIDField(required=False)
    scheduled_charge_id = serializers.UUIDField(required=False)
    discount_id = serializers.UUIDField(required=False)
    professional_service_id = serializers.UUIDField(required=False)
    commit_id = serializers.UUIDField(required=False)
    applied_commit_or_credit = AppliedCommitOrCreditDoc(required=False)


class ExternalInvoiceDoc(serializers.Serializer):
    """The invoice in its billing provider (added by the payments app, see extensions.py)."""

    billing_provider_type = serializers.CharField()
    external_status = serializers.ChoiceField(
        choices=["QUEUED", "SENT", "PAID", "PAYMENT_FAILED", "VOID", "UNCOLLECTIBLE"],
        required=False,
    )
    invoice_id = serializers.CharField(required=False, help_text="The provider's invoice id.")
    billing_provider_error = serializers.CharField(required=False)
    external_payment_id = serializers.CharField(required=False)
    invoiced_total = serializers.DecimalField(
        max_digits=38, decimal_places=12, coerce_to_string=False, required=False
    )
    issued_at_timestamp = serializers.DateTimeField(required=False)
    pdf_url = serializers.CharField(required=False)


class InvoiceDoc(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    contract_id = serializers.UUIDField()
    credit_type = CreditTypeDoc()
    status = serializers.ChoiceField(choices=["DRAFT", "FINALIZED", "VOID"])
    type = serializers.ChoiceField(
        choices=["USAGE", "USAGE_CONSOLIDATED", "SCHEDULED"],
        help_text="USAGE: a billing period's usage invoice; USAGE_CONSOLIDATED: an account "
        "hierarchy parent's invoice of a period gathering its consolidating children's usage "
        "invoices (and with CONCATENATE its own); SCHEDULED: the commit purchases and "
        "scheduled charges due on one date (unless the contract puts them on usage invoices).",
    )
    start_timestamp = serializers.DateTimeField(
        help_text="Billing period start; a SCHEDULED invoice's date (start = end)."
    )
    end_timestamp = serializers.DateTimeField(
        help_text="Billing period end (exclusive); a SCHEDULED invoice's date (start = end)."
    )
    created_at = serializers.DateTimeField()
    issued_at = serializers.DateTimeField(required=False)
    subtotal = serializers.DecimalField(max_digits=38, decimal_places=12, coerce_to_string=False)
    total = serializers.DecimalField(max_digits=38, decimal_places=12, coerce_to_string=False)
    net_payment_terms_days = serializers.IntegerField()
    line_items = LineItemDoc(many=True)
    invoice_adjustments = serializers.ListField(child=serializers.DictField())
    custom_fields = serializers.DictField()
    regenerated_from_invoice_id = serializers.UUIDField(required=False)
    payer = PartyDoc(
        required=False,
        help_text="An account hierarchy's invoice: the contract and customer that pay for it.",
    )
    billable_status = serializers.ChoiceField(
        choices=["billable", "unbillable"],
        required=False,
        help_text="An account hierarchy's invoice: unbillable when it is billed on its parent's "
        "consolidated invoice (not sent to the billing provider on its own).",
    )
    constituent_invoices = ConstituentDoc(
        many=True,
        required=False,
        help_text="A USAGE_CONSOLIDATED invoice: the invoices consolidated into it.",
    )
    external_invoice = ExternalInvoiceDoc(
        required=False, help_text="Sent to a billing provider: its id and payment status there."
    )


class InvoiceIdIn(serializers.Serializer):
    id = serializers.UUIDField()


SKIP_ZERO = OpenApiParameter(
    "skip_zero_qty_line_items", bool, description="Leave out lines whose quantity is zero."
)


def list_parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter("status", str, enum=["DRAFT", "FINALIZED", "VOID"]),
        OpenApiParameter(
            "type",
            str,
            enum=["USAGE", "USAGE_CONSOLIDATED", "SCHEDULED"],
            description="USAGE: one per billing period; USAGE_CONSOLIDATED: an account "
            "hierarchy parent's consolidated invoices; SCHEDULED: commit purchases and "
            "scheduled charges, one per date.",
        ),
        OpenApiParameter("contract_id", str),
        OpenApiParameter("credit_type_id", str),
        OpenApiParameter("starting_on", str, description="RFC 3339; billing periods from then."),
        OpenApiParameter("ending_before", str, description="RFC 3339; periods ending by then."),
        OpenApiParameter("sort", str, enum=["date_asc", "date_desc"]),
        SKIP_ZERO,
        *page_parameters(),
    ]
