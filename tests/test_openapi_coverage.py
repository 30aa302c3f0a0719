"""Every API endpoint is in the OpenAPI schema with its bodies described, not only its path."""

import pytest
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator

# Answer 200 with no body on purpose (Metronome's wire format): the SDK discards the response.
EMPTY_200 = {
    ("/v1/ingest", "post"),
    ("/v1/customers/{customer_id}/setIngestAliases", "post"),
    ("/v1/contracts/addManualBalanceLedgerEntry", "post"),
    ("/v1/customers/{customer_id}/updateConfig", "post"),
    ("/v1/customFields/addKey", "post"),
    ("/v1/customFields/removeKey", "post"),
    ("/v1/customFields/setValues", "post"),
    ("/v1/customFields/deleteValues", "post"),
    ("/v1/contract-pricing/rate-cards/updateNamedSchedule", "post"),
    ("/v1/contracts/updateNamedSchedule", "post"),
    ("/v1/customers/updateNamedSchedule", "post"),
    ("/v1/contracts/setUsageFilter", "post"),
    ("/v1/contracts/commits/threshold-billing/release", "post"),
    ("/v1/customers/{customer_id}/billing-config/{billing_provider_type}", "post"),
    ("/v1/customers/{customer_id}/billing-config/{billing_provider_type}", "delete"),
    ("/v1/customer-alerts/reset", "post"),
}
# The SDK's rate_cards.list() and v2 notifications.system.list() post no body at all.
NO_BODY = {
    ("/v1/contract-pricing/rate-cards/list", "post"),
    ("/v2/notifications/system/list", "post"),
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _api_routes() -> set[str]:
    routes = set()
    for pattern in get_resolver().url_patterns:
        for sub in getattr(pattern, "url_patterns", [pattern]):
            text = str(sub.pattern)
            if text.startswith(("v1/", "v2/")):
                routes.add(text)
    return routes


def test_every_api_route_is_in_the_schema(schema):
    paths = {path.lstrip("/") for path in schema["paths"]}
    normalized = {
        route.replace("<str:", "{").replace("<uuid:", "{").replace(">", "}")
        for route in _api_routes()
    }
    assert normalized <= paths, sorted(normalized - paths)


def test_every_operation_describes_its_bodies(schema):
    missing = []
    for path, operations in schema["paths"].items():
        if not path.startswith(("/v1/", "/v2/")):
            continue
        for method, operation in operations.items():
            if operation.get("deprecated"):
                continue  # the Plans-era paths only answer 410 Gone
            ok = operation["responses"].get("200", {})
            if (path, method) not in EMPTY_200 and "content" not in ok:
                missing.append(f"{method.upper()} {path}: no 200 body")
            needs_body = method in ("post", "put") and (path, method) not in NO_BODY
            if needs_body and "requestBody" not in operation:
                missing.append(f"{method.upper()} {path}: no request body")
            for code in ("400", "404"):
                body = operation["responses"].get(code)
                if body is not None and "content" not in body:
                    missing.append(f"{method.upper()} {path}: {code} undescribed")
    assert missing == []
