"""Middleware for what reaches the project outside the DRF views' own handling.

- `RequestTextMiddleware`: a query string (or path) holding a NUL is a 400 `{"message"}` naming the
  parameter, for every view (the API's filters, the admin's search), before any of it reaches the
  database (PostgreSQL cannot store NUL; Django decodes a query string with replacement characters,
  so unpaired surrogates cannot arrive this way). JSON bodies are checked by `core.parsers`.
- `DatabaseUnavailableMiddleware`: a view that fails because the database cannot be reached answers
  a JSON 503 with `Retry-After` (the DRF views get the same answer from `core.exceptions`), so
  clients (Metronome's SDK among them) know the request may be retried.
- `CSPMiddleware`: django-csp's, with the policy built once per process instead of twice per
  response.
"""

from __future__ import annotations

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import JsonResponse

from .exceptions import database_unavailable_response, is_database_unavailable
from .parsers import BAD_TEXT_MESSAGE, shown_text


class RequestTextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            return JsonResponse({"message": f"path: {BAD_TEXT_MESSAGE}"}, status=400)
        if "%00" in request.META.get("QUERY_STRING", ""):
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    return JsonResponse(
                        {"message": f"{shown_text(name)}: {BAD_TEXT_MESSAGE}"}, status=400
                    )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            return database_unavailable_response(JsonResponse)
        return None


# What a view may set on its response to change the policy (django-csp's decorators and
# `dashboards.views`, which sets `_csp_replace`).
_POLICY_CHANGES = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
# (header, the setting it comes from, the response attribute that exempts a response from it)
_HEADERS = (
    (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
    (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
)


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp 4.0's middleware, which builds the policy for every response twice: the
    enforced header and the report-only one, each through `get_policy_parts` (a
    `dataclasses.asdict` deep copy) and `build_policy` (a walk over every directive, copying
    each list), although neither changes from one response to the next unless the view changed
    it or the page used a nonce. Here such a response gets both headers from strings built once
    per process (per settings object, so `override_settings` is seen); the others go through
    django-csp as before. The same headers, exemptions and excluded prefixes either way
    (`tests/core/test_csp_middleware.py` compares them)."""

    _built: dict[str, tuple[object, str, tuple[str, ...]]] = {}

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _POLICY_CHANGES
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for header, setting, exempt in _HEADERS:
            policy, prefixes = self._policy(setting)
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(prefixes)
            ):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    @classmethod
    def _policy(cls, setting: str) -> tuple[str, tuple[str, ...]]:
        """(the header's value, the excluded URL prefixes) of the setting as it is now."""
        value = getattr(settings, setting, None)
        built = cls._built.get(setting)
        if built is None or built[0] is not value:
            policy = build_policy(report_only=setting.endswith("_REPORT_ONLY"))
            prefixes = tuple((value or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            built = cls._built[setting] = (value, policy, prefixes)
        return built[1], built[2]
