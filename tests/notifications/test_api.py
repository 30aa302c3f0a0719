"""Bad input on the alerts and notifications endpoints: a 400 naming the field, nothing stored."""

import pytest

from notifications.models import Alert, OffsetNotification
from tests.api.conftest import USD, data, error

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def post(api_client):
    def _post(path, body):
        return api_client.post(path, body, format="json")

    return _post


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"alert_type": "nope"}, "alert_type: 'nope' is not one of spend_threshold_reached, "),
        (
            {"alert_type": "low_remaining_seat_balance_reached"},
            "alert_type: 'low_remaining_seat_balance_reached' watches seats, which this product "
            "does not have.",
        ),
        (
            {"alert_type": "usage_threshold_reached", "billable_metric_id": UNKNOWN},
            f"billable_metric_id: Billable metric {UNKNOWN} not found.",
        ),
        ({"alert_type": "usage_threshold_reached"}, "billable_metric_id: Required for usage"),
        ({"customer_id": UNKNOWN}, f"customer_id: Customer {UNKNOWN} not found."),
        ({"credit_type_id": UNKNOWN}, f"credit_type_id: Pricing unit {UNKNOWN} not found."),
        ({"customer_id": "nope"}, "customer_id: 'nope' is not a valid UUID."),
        ({"threshold": -1}, "threshold: Must be at least 0."),
        ({"threshold": "lots"}, "threshold: Must be a number."),
        (
            {"custom_field_filters": [{"entity": "Contract", "key": "k", "value": "v"}]},
            "custom_field_filters[0].key: 'k' is not a custom field key of contract; add it with "
            "/v1/customFields/addKey first.",
        ),
        (
            {"custom_field_filters": [{"entity": "Plan", "key": "k", "value": "v"}]},
            "custom_field_filters[0].entity: 'Plan' is not one of Contract, Commit, "
            "ContractCredit, ContractCreditOrCommit.",
        ),
        (
            {"custom_field_filters": [{"entity": "Contract", "key": "k"}]},
            "custom_field_filters[0].value: This field is required.",
        ),
        (
            {"custom_field_filters": [{"entity": "Commit", "key": "k", "value": "v"}]},
            "custom_field_filters[0].entity: A Commit filter does not apply to "
            "spend_threshold_reached alerts.",
        ),
        (
            {"custom_field_filters": {"entity": "Contract"}},
            "custom_field_filters: Expected a list of items",
        ),
        (
            {"alert_specifiers": [{"custom_field_filters": []}]},
            "alert_specifiers: Only for low_remaining_contract_credit_and_commit_balance_reached",
        ),
        ({"plan_id": UNKNOWN}, "plan_id: Plans do not exist in this product;"),
        ({"access_type": "QUANTITY"}, "access_type: Only for commit and credit balance alerts."),
        (
            {
                "alert_type": "low_remaining_days_for_commit_segment_reached",
                "access_type": "QUANTITY",
            },
            "access_type: QUANTITY is for the balance and percentage alerts (units left); a "
            "days-left alert watches every segment's days.",
        ),
        (
            {
                "alert_type": "low_remaining_commit_balance_reached",
                "access_type": "QUANTITY",
                "credit_type_id": USD,
            },
            "credit_type_id: A QUANTITY alert counts units: leave credit_type_id out.",
        ),
        ({"invoice_types_filter": ["USAGE"]}, "invoice_types_filter: Only for invoice_total"),
        (
            {"alert_type": "low_remaining_commit_percentage_reached", "threshold": 150},
            "threshold: A percentage threshold is from 0 to 100.",
        ),
    ],
)
def test_alert_create_refuses_bad_input_and_stores_nothing(post, body, message):
    full = {"alert_type": "spend_threshold_reached", "name": "x", "threshold": 10, **body}
    assert error(post("/v1/alerts/create", full), 400).startswith(message)
    assert not Alert.objects.exists()


def test_each_custom_field_filter_must_name_a_key_of_its_entity(post):
    for entity, key in (("commit", "team"), ("contract", "tier")):
        body = {"entity": entity, "key": key, "enforce_uniqueness": False}
        assert post("/v1/customFields/addKey", body).status_code == 200
    body = {
        "alert_type": "low_remaining_contract_credit_and_commit_balance_reached",
        "name": "x",
        "threshold": 10,
        "custom_field_filters": [
            {"entity": "Commit", "key": "team", "value": "eu"},
            {"entity": "ContractCredit", "key": "team", "value": "eu"},
        ],
    }
    assert error(post("/v1/alerts/create", body), 400) == (
        "custom_field_filters[1].key: 'team' is not a custom field key of contract_credit; add "
        "it with /v1/customFields/addKey first."
    )
    body["custom_field_filters"][1] = {
        "entity": "ContractCreditOrCommit",
        "key": "team",
        "value": "eu",
    }
    body["custom_field_filters"].append({"entity": "Contract", "key": "tier", "value": "gold"})
    alert = Alert.objects.get(pk=data(post("/v1/alerts/create", body))["id"])
    assert alert.custom_field_filters == [
        {"entity": "Commit", "key": "team", "value": "eu"},
        {"entity": "ContractCreditOrCommit", "key": "team", "value": "eu"},
        {"entity": "Contract", "key": "tier", "value": "gold"},
    ]


def test_a_reused_uniqueness_key_is_a_409(post):
    body = {
        "alert_type": "spend_threshold_reached",
        "name": "x",
        "threshold": 1,
        "uniqueness_key": "k",
    }
    data(post("/v1/alerts/create", body))
    assert error(post("/v1/alerts/create", body), 409) == (
        "uniqueness_key: 'k' was already used to create a threshold notification."
    )


def test_customer_alert_paths_answer_404_for_what_does_not_exist(post):
    assert (
        error(post("/v1/customer-alerts/get", {"alert_id": UNKNOWN, "customer_id": UNKNOWN}), 404)
        == f"Customer {UNKNOWN} not found."
    )
    assert error(post("/v1/alerts/archive", {"id": UNKNOWN}), 404) == (
        f"Threshold notification {UNKNOWN} not found."
    )
    assert (
        error(post("/v1/customer-alerts/list", {}), 400) == "customer_id: This field is required."
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"type": "contract.renewed", "offset": "P1D"}, "policy.type: 'contract.renewed' is not"),
        ({"type": "contract.end", "offset": "P1M"}, "policy.offset: 'P1M' is not an ISO 8601"),
        ({"type": "contract.end"}, "policy.offset: Required"),
    ],
)
def test_offset_create_refuses_bad_policies(post, policy, message):
    assert error(post("/v2/notifications/create", {"name": "x", "policy": policy}), 400).startswith(
        message
    )
    assert not OffsetNotification.objects.exists()


def test_system_edit_needs_a_known_type_and_is_enabled(post):
    assert error(
        post("/v2/notifications/edit", {"policy": {"type": "nope"}, "is_enabled": True}), 400
    ).startswith("policy.type: 'nope' is not one of contract.create")
    assert error(post("/v2/notifications/edit", {"policy": {"type": "contract.end"}}), 400) == (
        "is_enabled: Required to switch a system notification on or off."
    )


def test_every_path_needs_a_token(client):
    for path in ("/v1/alerts/create", "/v1/customer-alerts/list", "/v2/notifications/system/list"):
        assert client.post(path, {}, content_type="application/json").status_code == 401
