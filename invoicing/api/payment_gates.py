"""`POST /v1/contracts/commits/threshold-billing/release`: the integrator's report of an EXTERNAL
payment gate's outcome (Metronome's "Release external payment gate threshold commit"). Thin:
validate, find the workflow, settle it, answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    StrictCharField,
    UUIDStringField,
    error_responses,
    get_or_404,
    request_body,
    validated,
)
from core.exceptions import Conflict
from customers.models import PaymentGate
from invoicing.payment_gates import OUTCOMES, PaymentGateConflict, payment_gate_settle


class ReleaseIn(serializers.Serializer):
    workflow_id = UUIDStringField()
    outcome = StrictCharField()
    # Not in Metronome's body, but checked when given: a report about another contract is
    # refused rather than applied to the workflow it names.
    customer_id = UUIDStringField(required=False)
    contract_id = UUIDStringField(required=False)

    def validate_outcome(self, value):
        if value.lower() not in OUTCOMES:
            raise serializers.ValidationError("Must be paid or failed (or cancelled).")
        return OUTCOMES[value.lower()]


class ThresholdBillingReleaseView(APIView):
    @extend_schema(
        operation_id="v1_contracts_commits_threshold_billing_release",
        tags=["Contracts"],
        request=ReleaseIn,
        responses={200: None, **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(ReleaseIn, request_body(request))
        gate = get_or_404(
            PaymentGate.objects.select_related("commit"),
            data["workflow_id"],
            field="workflow_id",
            label="Payment gate workflow",
        )
        for name in ("customer_id", "contract_id"):
            given = data.get(name)
            if given is not None and str(given) != str(getattr(gate, name)):
                raise exceptions.NotFound(
                    f"{name}: payment gate workflow {gate.pk} belongs to another "
                    f"{name.removesuffix('_id')}."
                )
        if gate.gate_type != PaymentGate.GateType.EXTERNAL:
            raise exceptions.ValidationError(
                {"workflow_id": "This workflow is a Stripe gate: Stripe reports its payment."}
            )
        try:
            payment_gate_settle(
                gate=gate,
                outcome=data["outcome"],
                now=timezone.now(),
                by="api",
                reason="Cancelled by the integrator." if data["outcome"] == "failed" else "",
            )
        except PaymentGateConflict as exc:
            raise Conflict(f"outcome: {exc}") from None
        return Response({})
