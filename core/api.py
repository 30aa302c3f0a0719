"""Shared plumbing for the Metronome-compatible API: envelope, ids, fields, cursors, conflicts.

Wire conventions (reference section 2): every answer is `{"data": ...}`; ids are UUID strings; enums
are read in any case and written in upper case; naive timestamps are UTC and answers are RFC 3339
with a `Z`; numbers are JSON numbers read as Decimal; three pagination styles (a `next_page` query
cursor, a `next_page` body cursor and a `cursor` body cursor).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from core.exceptions import Conflict

DEFAULT_LIMIT = 100
MAX_LIMIT = 100


# --- Envelope ---------------------------------------------------------------------------------


def envelope(data) -> Response:
    """`{"data": ...}` with status 200, the shape of every non-list answer."""
    return Response({"data": data})


def id_envelope(obj_or_id) -> Response:
    """`{"data": {"id": "<uuid>"}}`, the answer of most create/update/archive calls."""
    value = getattr(obj_or_id, "pk", obj_or_id)
    return Response({"data": {"id": str(value)}})


def request_body(request) -> dict:
    """The JSON body as a dict; an empty body is {} (rate-cards/list sends no body at all)."""
    data = request.data
    if data is None or (hasattr(data, "keys") and not data):
        return {}
    if not isinstance(data, dict):
        raise exceptions.ValidationError("The request body must be a JSON object.")
    return data


# --- Ids ----------------------------------------------------------------------------------------


def parse_uuid(value, field: str) -> uuid.UUID:
    """A UUID from a body field or path segment; a malformed one is a 400 naming the field."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise exceptions.ValidationError({field: "Must be a UUID string."})
    try:
        return uuid.UUID(value)
    except ValueError:
        raise exceptions.ValidationError({field: f"'{value}' is not a valid UUID."}) from None


def get_or_404(queryset_or_model, value, *, field: str, label: str):
    """Fetch by id: 400 if the id is malformed, 404 "<label> <id> not found." if nothing has it."""
    pk = parse_uuid(value, field)
    queryset = (
        queryset_or_model
        if isinstance(queryset_or_model, models.QuerySet)
        else queryset_or_model._default_manager.all()
    )
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise exceptions.NotFound(f"{label} {pk} not found.")
    return obj


# --- Fields ---------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string and only a string (DRF's CharField would turn 123 into "123")."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false in a JSON body (not "yes", not 1)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class UUIDStringField(serializers.UUIDField):
    """A UUID given as a string; a malformed one names the field."""

    default_error_messages = {"invalid": "'{value}' is not a valid UUID."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class EnumField(serializers.ChoiceField):
    """An enum read in any case ("count", "Count", "COUNT") and stored/written in upper case.

    `aliases` maps other accepted spellings onto a choice (PROFESSIONAL_SERVICE -> PRO_SERVICE).
    """

    default_error_messages = {"invalid_choice": "'{input}' is not one of {choices}."}

    def __init__(self, choices, *, aliases: dict[str, str] | None = None, **kwargs):
        self.aliases = {k.upper(): v for k, v in (aliases or {}).items()}
        super().__init__(choices, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail(
                "invalid_choice", input=data, choices=", ".join(self.choice_strings_to_values)
            )
        value = data.strip().upper()
        value = self.aliases.get(value, value)
        if value not in self.choice_strings_to_values:
            self.fail(
                "invalid_choice", input=data, choices=", ".join(self.choice_strings_to_values)
            )
        return self.choice_strings_to_values[value]

    def to_representation(self, value):
        return None if value in (None, "") else str(value).upper()


class LowercaseEnumField(EnumField):
    """An enum whose wire values are lower case (`stripe`, `charge_automatically`): read in any
    case, stored and written in lower case."""

    def to_internal_value(self, data):
        value = data.strip().lower() if isinstance(data, str) else None
        if value not in self.choice_strings_to_values:
            self.fail(
                "invalid_choice", input=data, choices=", ".join(self.choice_strings_to_values)
            )
        return self.choice_strings_to_values[value]

    def to_representation(self, value):
        return None if value in (None, "") else str(value).lower()


class TimestampField(serializers.DateTimeField):
    """RFC 3339 in (Z, +00:00, fractions, or naive = UTC); RFC 3339 UTC with a Z out."""

    default_error_messages = {"not_rfc3339": "'{input}' is not an RFC 3339 timestamp."}

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str | datetime):
            self.fail("not_rfc3339", input=value)
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            self.fail("not_rfc3339", input=value)

    def to_representation(self, value):
        return format_timestamp(value)


def format_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_timestamp(value, field: str) -> datetime:
    """A query-string or body timestamp; naive means UTC; a bad one is a 400 naming the field."""
    try:
        return TimestampField().to_internal_value(value)
    except serializers.ValidationError as exc:
        raise exceptions.ValidationError({field: exc.detail}) from None


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMapField(serializers.DictField):
    """{"key": "text value"} (custom fields, pricing group values)."""

    def __init__(self, **kwargs):
        super().__init__(child=StrictCharField(allow_blank=True), **kwargs)


class StringListField(serializers.ListField):
    """A list of non-empty strings."""

    def __init__(self, **kwargs):
        super().__init__(child=StrictCharField(), **kwargs)


def mentioned(data: dict, *names: str) -> bool:
    return any(name in data for name in names)


# --- Errors in API words ---------------------------------------------------------------------------


@contextmanager
def api_field_names(rename: dict[str, str] | None = None, *, prefix: str = "") -> Iterator[None]:
    """Re-raise a model ValidationError with the API's field names (billable_metric -> ..._id)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(_renamed(exc, rename or {}, prefix)) from None


def _renamed(exc: DjangoValidationError, rename: dict[str, str], prefix: str):
    if not hasattr(exc, "error_dict"):
        messages = exc.messages
        return {prefix: messages} if prefix else messages
    result: dict[str, list[str]] = {}
    for key, errors in exc.message_dict.items():
        head, dot, tail = key.rpartition(".")
        name = f"{head}{dot}{rename.get(tail, tail)}" if dot else rename.get(key, key)
        if key in ("__all__", "non_field_errors"):
            name = prefix or "non_field_errors"
        elif prefix:
            name = f"{prefix}.{name}"
        result.setdefault(name, []).extend(errors)
    return result


def validated(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """Run a request serializer; its errors become a 400 {"message": "field: problem"}."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise exceptions.ValidationError(_error_paths(serializer.errors))
    return serializer.validated_data


def validated_at(
    serializer_class: type[serializers.Serializer], data, where: str, **kwargs
) -> dict | list:
    """`validated` for a part of a request: its errors are named from `where` (the part's path
    in the request, as "recurring_commits" or "commits[0].specifiers")."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise exceptions.ValidationError(_error_paths(serializer.errors, where))
    return serializer.validated_data


def _error_paths(detail, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as {"rates[0].tiers[1].price": [...]} (list indexes in brackets)."""
    paths: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key in ("non_field_errors", "__all__"):
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for path, messages in _error_paths(value, name).items():
                paths.setdefault(path, []).extend(messages)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                if value:
                    for path, messages in _error_paths(value, f"{prefix}[{index}]").items():
                        paths.setdefault(path, []).extend(messages)
            else:
                paths.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        paths.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return paths


# --- Uniqueness keys --------------------------------------------------------------------------------


def ensure_unused_uniqueness_key(queryset, key: str | None, *, what: str) -> None:
    """409 + x-should-retry: false when a uniqueness_key was already used (reference 2.12)."""
    if key and queryset.filter(uniqueness_key=key).exists():
        raise Conflict(f"uniqueness_key: '{key}' was already used to create a {what}.")


# --- Pagination --------------------------------------------------------------------------------------


def _encode_cursor(payload) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, field: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise exceptions.ValidationError({field: "Not a cursor this server issued."}) from None


def parse_limit(value, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise exceptions.ValidationError({"limit": f"Must be an integer from 1 to {maximum}."})
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise exceptions.ValidationError(
            {"limit": f"Must be an integer from 1 to {maximum}."}
        ) from None
    if number != number.to_integral_value() or not (1 <= number <= maximum):
        raise exceptions.ValidationError({"limit": f"Must be an integer from 1 to {maximum}."})
    return int(number)


def keyset_page(
    queryset,
    *,
    limit: int,
    cursor: str | None,
    cursor_field: str = "next_page",
    time_field: str = "created_at",
    descending: bool = False,
) -> tuple[list, str | None]:
    """One page of a queryset ordered by (`time_field`, id), and the cursor of the next page."""
    sign = "-" if descending else ""
    queryset = queryset.order_by(f"{sign}{time_field}", f"{sign}pk")
    if cursor:
        payload = _decode_cursor(cursor, cursor_field)
        try:
            after_time = datetime.fromisoformat(payload["t"])
            after_id = queryset.model._meta.pk.to_python(payload["i"])
        except (KeyError, TypeError, ValueError, DjangoValidationError):
            raise exceptions.ValidationError(
                {cursor_field: "Not a cursor this server issued."}
            ) from None
        past = "lt" if descending else "gt"
        queryset = queryset.filter(
            Q(**{f"{time_field}__{past}": after_time})
            | Q(**{time_field: after_time, f"pk__{past}": after_id})
        )
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, _encode_cursor({"t": getattr(last, time_field).isoformat(), "i": str(last.pk)})


def keyset_page_union(
    querysets: Sequence, *, limit: int, cursor: str | None, cursor_field: str = "next_page"
) -> tuple[list, str | None]:
    """`keyset_page` over several querysets at once (e.g. commits and credits), merged in
    (created_at, id) order; the cursor is the same kind as `keyset_page`'s."""
    merged = []
    for queryset in querysets:
        rows, _ = keyset_page(queryset, limit=limit + 1, cursor=cursor, cursor_field=cursor_field)
        merged.extend(rows)
    merged.sort(key=lambda row: (row.created_at, str(row.pk)))
    if len(merged) <= limit:
        return merged, None
    rows = merged[:limit]
    last = rows[-1]
    return rows, _encode_cursor({"t": last.created_at.isoformat(), "i": str(last.pk)})


def offset_page(
    items: Sequence, *, limit: int, cursor: str | None, cursor_field: str = "next_page"
) -> tuple[list, str | None]:
    """One page of an already computed list (rates at a point in time, schedules)."""
    start = 0
    if cursor:
        payload = _decode_cursor(cursor, cursor_field)
        start = payload.get("o") if isinstance(payload, dict) else None
        if not isinstance(start, int) or start < 0:
            raise exceptions.ValidationError({cursor_field: "Not a cursor this server issued."})
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (_encode_cursor({"o": start + limit}) if more else None)


def query_cursor_page(
    request,
    queryset_or_items,
    serialize: Callable[[Iterable], list],
    *,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Response:
    """Query-cursor style: `?limit=&next_page=` in, `{"data": [...], "next_page": ...}` out."""
    limit = parse_limit(request.query_params.get("limit"), default=default_limit, maximum=max_limit)
    cursor = request.query_params.get("next_page") or None
    if isinstance(queryset_or_items, models.QuerySet):
        rows, next_cursor = keyset_page(queryset_or_items, limit=limit, cursor=cursor)
    else:
        rows, next_cursor = offset_page(queryset_or_items, limit=limit, cursor=cursor)
    return Response({"data": serialize(rows), "next_page": next_cursor})


def body_cursor_page(
    body: dict,
    queryset,
    serialize: Callable[[Iterable], list],
    *,
    cursor_field: str = "cursor",
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Response:
    """Body-cursor style: `limit` and `cursor` (or `next_page`) in the JSON body, same key out."""
    limit = parse_limit(body.get("limit"), default=default_limit, maximum=max_limit)
    cursor = body.get(cursor_field) or None
    if cursor is not None and not isinstance(cursor, str):
        raise exceptions.ValidationError({cursor_field: "Must be a string."})
    rows, next_cursor = keyset_page(queryset, limit=limit, cursor=cursor, cursor_field=cursor_field)
    return Response({"data": serialize(rows), cursor_field: next_cursor})


# --- Schema helpers -----------------------------------------------------------------------------------


def data_schema(name: str, inner) -> serializers.Serializer:
    """`{"data": <inner>}` for the OpenAPI schema."""
    return inline_serializer(name=name, fields={"data": inner})


def page_schema(name: str, inner, *, cursor_field: str = "next_page") -> serializers.Serializer:
    """`{"data": [<inner>], "next_page"|"cursor": str|null}` for the OpenAPI schema."""
    return inline_serializer(
        name=name,
        fields={
            "data": serializers.ListField(child=inner),
            cursor_field: serializers.CharField(allow_null=True, required=False),
        },
    )


class IdSerializer(serializers.Serializer):
    id = serializers.UUIDField()


def id_schema(name: str) -> serializers.Serializer:
    return data_schema(name, IdSerializer())


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField()


def page_parameters() -> list[OpenApiParameter]:
    """The query-cursor parameters (`limit`, `next_page`) every query-cursor list takes."""
    return [
        OpenApiParameter("limit", int, description="Page size, 1 to 100."),
        OpenApiParameter("next_page", str, description="Cursor from the previous page."),
    ]


def error_responses(*codes: int) -> dict:
    """Error answers share one shape: {"message": "..."}."""
    return dict.fromkeys(codes, ErrorSerializer)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describe the Bearer API token in the OpenAPI schema."""

    target_class = "core.authentication.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `manage.py create_api_token`.",
        }
