"""The Plans-era APIs (plans, customer plans, credit grants, plan charges) answer 410 Gone with
a message saying what replaces them; `/v1/services` lists no Metronome IP services (a
self-hosted deployment has none to allow-list)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses

REPLACED = {
    "plans": "Plans are not supported: contracts replace them (/v1/contracts/create with a rate "
    "card, or a package).",
    "credit_grants": "Credit grants are not supported: contracts replace them (credits on a "
    "contract, or /v1/contracts/customerCredits/create).",
    "charges": "Plan charges are not supported: contracts replace them (scheduled charges on a "
    "contract, /v2/contracts/edit add_scheduled_charges).",
}


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "Gone."


def legacy_view(kind: str, operation: str) -> type[APIView]:
    """A view answering every method with 410 and `REPLACED[kind]`."""

    @extend_schema(
        operation_id=operation,
        tags=["Legacy (Plans)"],
        request=None,
        responses=error_responses(410),
        deprecated=True,
    )
    def answer(self, request, *args, **kwargs):
        raise Gone(REPLACED[kind])

    # GET answers the same 410; the schema documents the SDK's method (POST) once.
    @extend_schema(exclude=True)
    def answer_get(self, request, *args, **kwargs):
        raise Gone(REPLACED[kind])

    return type(
        f"Legacy{operation.title().replace('_', '')}View",
        (APIView,),
        {"get": answer_get, "post": answer, "__doc__": REPLACED[kind]},
    )


class ServiceListView(APIView):
    @extend_schema(
        operation_id="v1_services_list",
        tags=["Services"],
        responses={
            200: inline_serializer(
                "ServiceListResponse",
                {"services": serializers.ListField(child=serializers.DictField())},
            )
        },
    )
    def get(self, request):
        return Response({"services": []})
