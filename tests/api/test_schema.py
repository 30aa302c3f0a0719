"""The OpenAPI schema and its documentation page: public, valid, describing bodies."""

import json

from openapi_spec_validator import validate
from rest_framework.test import APIClient

from notifications.models import Alert


def test_schema_is_served_without_a_token_and_validates_as_openapi_3(db):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_describes_request_and_response_bodies_of_the_configuration_api(db):
    schema = json.loads(APIClient().get("/api/schema/?format=json").content)
    paths = schema["paths"]
    for path, method in [
        ("/v1/billable-metrics/create", "post"),
        ("/v1/contract-pricing/products/create", "post"),
        ("/v1/contract-pricing/rate-cards/addRate", "post"),
        ("/v1/customers", "post"),
        ("/v1/contracts/create", "post"),
        ("/v2/contracts/edit", "post"),
        ("/v1/packages/create", "post"),
    ]:
        operation = paths[path][method]
        assert "requestBody" in operation, path
        assert "application/json" in operation["responses"]["200"]["content"], path
    listed = paths["/v2/contracts/list"]["post"]["responses"]["200"]["content"]["application/json"]
    component = listed["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][component]["properties"]) == {"data", "cursor"}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_configuration_path_is_in_the_schema(db):
    paths = json.loads(APIClient().get("/api/schema/?format=json").content)["paths"]
    expected = {
        "/v1/credit-types/create",
        "/v1/credit-types/list",
        "/v1/credit-types/archive",
        "/v1/billable-metrics/create",
        "/v1/billable-metrics",
        "/v1/billable-metrics/{billable_metric_id}",
        "/v1/billable-metrics/archive",
        "/v1/customers",
        "/v1/customers/{customer_id}",
        "/v1/customers/archive",
        "/v1/customers/{customer_id}/setIngestAliases",
        "/v1/customers/{customer_id}/setName",
        "/v1/customers/{customer_id}/billable-metrics",
        "/v1/contract-pricing/products/create",
        "/v1/contract-pricing/products/get",
        "/v1/contract-pricing/products/list",
        "/v1/contract-pricing/products/update",
        "/v1/contract-pricing/products/archive",
        "/v1/contract-pricing/rate-cards/create",
        "/v1/contract-pricing/rate-cards/get",
        "/v1/contract-pricing/rate-cards/list",
        "/v1/contract-pricing/rate-cards/update",
        "/v1/contract-pricing/rate-cards/archive",
        "/v1/contract-pricing/rate-cards/addRate",
        "/v1/contract-pricing/rate-cards/addRates",
        "/v1/contract-pricing/rate-cards/getRates",
        "/v1/contract-pricing/rate-cards/getRateSchedule",
        "/v1/contracts/create",
        "/v1/contracts/get",
        "/v1/contracts/list",
        "/v1/contracts/archive",
        "/v1/contracts/updateEndDate",
        "/v2/contracts/get",
        "/v2/contracts/list",
        "/v2/contracts/edit",
        "/v1/packages/create",
        "/v1/packages/get",
        "/v1/packages/list",
        "/v1/packages/archive",
        "/v1/packages/listContractsOnPackage",
    }
    assert expected <= set(paths)


def test_docs_page_is_public_and_uses_local_assets(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_swagger_ui_assets_ship_with_the_app():
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")


def test_alert_filter_entity_enum_lists_the_entities_the_alert_model_knows(db):
    schema = json.loads(APIClient().get("/api/schema/?format=json").content)
    enum = schema["components"]["schemas"]["AlertFilterEntityEnum"]["enum"]
    assert enum == list(Alert.FILTER_ENTITIES)
    assert enum == ["Contract", "Commit", "ContractCredit", "ContractCreditOrCommit"]
