"""The request being served, for the audit trail to say who acted (`AuditEntry` reads it).

A middleware sets it for the length of each request (one context variable: nothing is written,
nothing connected or disconnected per request, so ingestion pays nothing measurable). The API's
token is seen through `request.user`, which DRF sets on the underlying request once it has
authenticated the call.
"""

from contextvars import ContextVar

_request: ContextVar = ContextVar("audit_request", default=None)


def current_request():
    return _request.get()


class AuditRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
