"""Every API error answers {"message": "..."} like Metronome, never DRF's default shapes."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class Conflict(exceptions.APIException):
    """A request that will never succeed as sent (a reused uniqueness_key): not worth retrying."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."


def _flatten(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        messages = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in ("non_field_errors", "__all__"):
                name = prefix
            messages.extend(_flatten(value, name))
        return messages
    if isinstance(detail, list):
        messages = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                messages.extend(_flatten(value, f"{prefix}[{index}]"))
            else:
                messages.extend(_flatten(value, prefix))
        return messages
    text = str(detail)
    return [f"{prefix}: {text}" if prefix else text]


def message_for(detail) -> str:
    return "; ".join(_flatten(detail)) or "Invalid request."


def message_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, Conflict):
        headers["x-should-retry"] = "false"
    return Response({"message": message_for(exc.detail)}, status=exc.status_code, headers=headers)
