"""POST /v1/ingest: the hot path. A DRF APIView for authentication, throttling and the schema, but
the body is read once by hand (gzip aware), parsed with `parse_float=Decimal`, and validated in one
pass of plain Python by `usage_events_ingest`: no serializer per event."""

import io

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.views import APIView

from core.api import error_responses
from core.authentication import token_refused, token_still_valid
from core.parsers import (
    BAD_TEXT_MESSAGE,
    bad_text_path,
    loads_decimal,
    may_hold_bad_text,
    path_text,
    read_body,
)
from metering import services

# 100 events of 2,000 properties fit well below this; anything larger is refused unread.
MAX_BODY_BYTES = 10 * 1024 * 1024

_EVENT_SCHEMA = inline_serializer(
    name="UsageEventIn",
    fields={
        "transaction_id": serializers.CharField(min_length=1, max_length=128),
        "customer_id": serializers.CharField(min_length=1),
        "event_type": serializers.CharField(min_length=1),
        "timestamp": serializers.CharField(help_text="RFC 3339; naive means UTC."),
        "properties": serializers.DictField(required=False),
    },
    many=True,
    min_length=1,
    max_length=100,
)


# Accept headers every client sends (none, any, JSON): they choose the first renderer (JSON)
# without DRF parsing them on each request; any other is negotiated as usual (a 406 stays one).
_USUAL_ACCEPT = frozenset({"", "*/*", "application/json"})


class IngestView(APIView):
    """Accept 1 to 100 usage events; 200 with an empty body, 400 {"message"} naming the event."""

    token_scope = "ingest"
    # The API token may come from the process's cache: the store asks for it again where it
    # writes the batch (`core.authentication.TokenStillValid`), in the same statement.
    token_rechecked = True

    def perform_content_negotiation(self, request, force=False):
        if request.META.get("HTTP_ACCEPT", "") in _USUAL_ACCEPT:
            renderer = self.get_renderers()[0]
            if renderer.media_type == "application/json":
                return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        operation_id="v1_usage_ingest",
        request=_EVENT_SCHEMA,
        responses={200: OpenApiResponse(description="Accepted (empty body).")}
        | error_responses(400, 401),
    )
    def post(self, request):
        body = request._request.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise exceptions.ValidationError("The body is larger than 10 MiB.")
        raw = read_body(io.BytesIO(body), request.META.get("HTTP_CONTENT_ENCODING", ""))
        try:
            payload = loads_decimal(raw)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"Body is not valid JSON: {exc}") from None
        if may_hold_bad_text(raw):
            _refuse_bad_text(payload)
        now = timezone.now()
        try:
            result = services.usage_events_ingest(
                events=payload,
                now=now,
                is_late=services.late_event_check(),
                admit=token_still_valid(request, now=now),
            )
        except services.IngestError as exc:
            raise exceptions.ValidationError(str(exc)) from None
        if result.refused:
            raise token_refused(request)
        return HttpResponse(status=200)


def _refuse_bad_text(payload) -> None:
    """A NUL or an unpaired surrogate anywhere in the batch refuses it, naming event and field."""
    path = bad_text_path(payload)
    if path is None:
        return
    if path and isinstance(path[0], int):
        where = f"event {path[0]}: " + (f"{path_text(path[1:])}: " if len(path) > 1 else "")
    else:
        where = f"{path_text(path) or 'body'}: "
    raise exceptions.ValidationError(where + BAD_TEXT_MESSAGE)
