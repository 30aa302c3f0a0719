"""Middleware for what reaches the project outside the DRF views' own handling.

- `RequestTextMiddleware`: a query string (or path) holding a NUL is a 400 `{"message"}` naming the
  parameter, for every view (the API's filters, the admin's search), before any of it reaches the
  database (PostgreSQL cannot store NUL; Django decodes a query string with replacement characters,
  so unpaired surrogates cannot arrive this way). JSON bodies are checked by `core.parsers`.
- `DatabaseUnavailableMiddleware`: a view that fails because the database cannot be reached answers
  a JSON 503 with `Retry-After` (the DRF views get the same answer from `core.exceptions`), so
  clients (Metronome's SDK among them) know the request may be retried.
"""

from __future__ import annotations

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
