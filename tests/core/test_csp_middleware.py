"""`core.middleware.CSPMiddleware`: the same Content-Security-Policy headers as django-csp's own
middleware in every case, with the policy built once per process for a response nothing changed,
instead of twice per response."""

import pytest
from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONE, SELF
from django.http import HttpResponse
from django.test import RequestFactory

from core.middleware import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": [SELF], "report-uri": "/csp-reports"}}


def _headers(middleware_class, *, path="/v1/ingest", status=200, nonce=False, **attributes):
    request = RequestFactory().get(path)
    response = HttpResponse(status=status)
    for name, value in attributes.items():
        setattr(response, name, value)
    middleware = middleware_class(lambda request: response)
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)
    answer = middleware.process_response(request, response)
    return {name: answer.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}, request


CASES = [
    pytest.param({}, id="a plain response"),
    pytest.param({"_csp_replace": {"frame-ancestors": ["https://a.example"]}}, id="replaced"),
    pytest.param({"_csp_update": {"img-src": ["https://cdn.example"]}}, id="updated"),
    pytest.param({"_csp_exempt": True}, id="exempt"),
    pytest.param({"nonce": True}, id="a nonce used"),
    pytest.param({"status": 404}, id="not found"),
]


@pytest.mark.parametrize("case", CASES)
def test_the_headers_are_django_csps(case):
    ours, _ = _headers(CSPMiddleware, **case)
    theirs, _ = _headers(csp_middleware.CSPMiddleware, **case)
    assert ours == theirs
    assert (ours[HEADER] is None) == bool(case.get("_csp_exempt"))


@pytest.mark.parametrize("case", CASES)
def test_with_a_report_only_policy_and_excluded_prefixes_too(settings, case):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/excluded/"],
    }
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    for path in ("/v1/ingest", "/excluded/page"):
        ours, _ = _headers(CSPMiddleware, path=path, **case)
        theirs, _ = _headers(csp_middleware.CSPMiddleware, path=path, **case)
        assert ours == theirs
    assert _headers(CSPMiddleware, path="/excluded/page")[0][HEADER] is None
    assert "report-uri /csp-reports" in _headers(CSPMiddleware)[0][HEADER_REPORT_ONLY]


def test_a_debug_404_gets_no_header_as_with_django_csp(settings):
    settings.DEBUG = True
    ours, _ = _headers(CSPMiddleware, status=404)
    assert ours == {HEADER: None, HEADER_REPORT_ONLY: None}


def test_a_changed_setting_is_seen(settings):
    before, _ = _headers(CSPMiddleware)
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [NONE]}}
    after, _ = _headers(CSPMiddleware)
    assert "object-src 'none'" in before[HEADER]
    assert after[HEADER] == "default-src 'none'"


def test_a_plain_response_builds_no_policy(monkeypatch):
    _headers(CSPMiddleware)
    built = []
    monkeypatch.setattr(csp_middleware, "build_policy", lambda **kw: built.append(kw) or "x")
    monkeypatch.setattr("core.middleware.build_policy", lambda **kw: built.append(kw) or "x")

    _headers(CSPMiddleware)

    assert built == []


def test_a_nonce_asked_for_after_the_header_is_an_error_as_with_django_csp():
    _, request = _headers(CSPMiddleware)
    with pytest.raises(csp_middleware.CSPNonceError):
        str(request.csp_nonce)
