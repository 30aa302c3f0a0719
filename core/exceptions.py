"""Every API error answers {"message": "..."} like Metronome, never DRF's default shapes.

A database that cannot be reached (a connection refused or dropped, a server restarting, SQLite's
lock wait running out, a deadlock) is a 503 with `Retry-After`, never a 500: the request had no
effect and may be sent again, which is what Metronome's SDK does with a 503. DRF views get it from
`message_exception_handler`, every other view from `core.middleware.DatabaseUnavailableMiddleware`.
"""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
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


RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable; retry the request later."

logger = logging.getLogger(__name__)


def is_database_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def database_unavailable_response(response_class=Response):
    """The 503 answer (DRF's `Response` or Django's `JsonResponse`), after logging the cause."""
    logger.error("The database is unavailable: answered 503.", exc_info=True)
    return response_class(
        {"message": DATABASE_UNAVAILABLE},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def api_not_found(request, exception=None):
    """The project's 404 for paths no route matches: {"message"} for the API, Django's page else."""
    if request.path.startswith(("/v1/", "/v2/", "/api/")):
        return JsonResponse({"message": f"Not found: {request.path}"}, status=404)
    return page_not_found(request, exception)


def message_exception_handler(exc, context):
    if is_database_unavailable(exc):
        return database_unavailable_response()
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
