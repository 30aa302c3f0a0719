"""Alert specifiers on combined balance alerts (Metronome's `alert_specifiers`): a balance counts
when it matches one specifier (all of its filters, none of its excludes); a filter without a
value groups the balances by that key, each group summed and alarmed on its own. Usage is 2
cents a token (the `world`); the commit "EU" is drawn first."""

from decimal import Decimal

import pytest

from notifications.models import CustomerAlert

from .conftest import USD, balance

pytestmark = pytest.mark.django_db


def _alerts(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]


@pytest.fixture
def tagged(world, empty):
    """Commit "EU" (team eu, 100), credit "US" (team us, 100), credit "Forever" (perpetual yes,
    500), drawn in that order."""
    for entity, key in (
        ("commit", "team"),
        ("contract_credit", "team"),
        ("contract_credit", "perpetual"),
    ):
        empty(
            "/v1/customFields/addKey", {"entity": entity, "key": key, "enforce_uniqueness": False}
        )
    terms = {
        "eu": balance(world, "commit", priority=1, amount=100, name="EU"),
        "us": balance(world, "credit", priority=2, amount=100, name="US"),
        "forever": balance(world, "credit", priority=3, amount=500, name="Forever"),
    }
    for name, entity, values in (
        ("eu", "commit", {"team": "eu"}),
        ("us", "contract_credit", {"team": "us"}),
        ("forever", "contract_credit", {"perpetual": "yes"}),
    ):
        empty(
            "/v1/customFields/setValues",
            {"entity": entity, "entity_id": str(terms[name].pk), "custom_fields": values},
        )
    return terms


def _alert(world, threshold, specifiers) -> str:
    body = {
        "name": "Balances",
        "customer_id": world["customer"],
        "alert_type": "low_remaining_contract_credit_and_commit_balance_reached",
        "threshold": threshold,
        "alert_specifiers": specifiers,
    }
    return world["post"]("/v1/alerts/create", body)["id"]


def _get(api_client, alert_id, customer_id, **body):
    response = api_client.post(
        "/v1/customer-alerts/get",
        {"alert_id": alert_id, "customer_id": customer_id, **body},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_a_valueless_filter_groups_the_balances_by_the_keys_value(
    world, tagged, endpoint, receiver, api_client
):
    team = {"entity": "ContractCreditOrCommit", "key": "team"}
    alert = _alert(world, 50, [{"custom_field_filters": [team]}])
    state = CustomerAlert.objects.get(alert_id=alert)
    assert (state.status, state.value) == ("ok", Decimal("100"))  # eu 100, us 100; Forever out

    world["ingest"](30)  # 60 cents from EU: eu 40, us 100
    [fired] = _alerts(receiver)
    assert fired["properties"]["remaining_balance"] == 40
    assert fired["properties"]["alert_specifier"] == {
        "custom_field_filters": [{**team, "value": "eu"}]
    }
    assert fired["properties"]["triggered_by"] == (
        "The commits and credits (ContractCreditOrCommit team = eu) have 40 left."
    )
    state = CustomerAlert.objects.get(alert_id=alert)
    assert state.alarmed == [f"balances:{USD}|ContractCreditOrCommit.team=eu"]

    def group(value):
        specifier = [{"custom_field_filters": [{**team, "value": value}]}]
        return _get(api_client, alert, world["customer"], alert_specifiers=specifier)

    assert group("eu")["customer_status"] == "in_alarm"
    assert group("eu")["triggered_by"] == fired["properties"]["triggered_by"]
    assert group("us")["customer_status"] == "ok"
    assert "triggered_by" not in group("us")
    whole = _get(api_client, alert, world["customer"])
    assert whole["customer_status"] == "in_alarm"
    assert whole["alert"]["alert_specifiers"] == [{"custom_field_filters": [team]}]


def test_an_exclude_removes_the_matching_balances_from_the_sum(world, tagged, endpoint, receiver):
    perpetual = {"entity": "ContractCredit", "key": "perpetual", "value": "yes"}
    alert = _alert(world, 150, [{"exclude": [{"custom_field_filters": [perpetual]}]}])
    assert CustomerAlert.objects.get(alert_id=alert).value == Decimal("200")  # 700 without it
    world["ingest"](30)  # 60 cents from EU: 140 of EU and US
    [fired] = _alerts(receiver)
    assert fired["properties"]["remaining_balance"] == 140
    assert "alert_specifier" not in fired["properties"]


def test_several_specifiers_are_alternatives(world, tagged, endpoint, receiver):
    specifiers = [
        {"custom_field_filters": [{"entity": "Commit", "key": "team", "value": "eu"}]},
        {
            "custom_field_filters": [
                {"entity": "ContractCredit", "key": "perpetual", "value": "yes"}
            ]
        },
    ]
    alert = _alert(world, 550, specifiers)
    assert CustomerAlert.objects.get(alert_id=alert).value == Decimal("600")  # EU + Forever
    world["ingest"](30)  # 60 cents from EU: 540
    [fired] = _alerts(receiver)
    assert fired["properties"]["remaining_balance"] == 540


def test_specifiers_that_cannot_apply_are_400s_naming_the_field(world, tagged, api_client):
    team = {"entity": "ContractCreditOrCommit", "key": "team"}
    for alert_type, specifiers, message in (
        (
            "low_remaining_commit_balance_reached",
            [{"custom_field_filters": [team]}],
            "alert_specifiers: Only for low_remaining_contract_credit_and_commit_balance_reached "
            "and low_remaining_contract_credit_and_commit_percentage_reached alerts, not "
            "low_remaining_commit_balance_reached.",
        ),
        (
            "low_remaining_contract_credit_and_commit_balance_reached",
            [{"product_id": "5b3a3b59-3fd0-4c53-8d8c-2bb6d1ad2b05"}],
            "alert_specifiers[0].product_id: Not a field here (one of: custom_field_filters, "
            "exclude).",
        ),
        (
            "low_remaining_contract_credit_and_commit_balance_reached",
            [{"exclude": [{"custom_field_filters": [team]}]}],
            "alert_specifiers[0].exclude[0].custom_field_filters[0].value: This field is required.",
        ),
        (
            "low_remaining_contract_credit_and_commit_balance_reached",
            [{"custom_field_filters": [{"entity": "Contract", "key": "team"}]}],
            "alert_specifiers[0].custom_field_filters[0].key: 'team' is not a custom field key "
            "of contract; add it with /v1/customFields/addKey first.",
        ),
    ):
        response = api_client.post(
            "/v1/alerts/create",
            {
                "name": "x",
                "alert_type": alert_type,
                "threshold": 1,
                "alert_specifiers": specifiers,
            },
            format="json",
        )
        assert (response.status_code, response.json()) == (400, {"message": message})
    spend = world["post"](
        "/v1/alerts/create",
        {"name": "Spend", "alert_type": "spend_threshold_reached", "threshold": 1},
    )["id"]
    response = api_client.post(
        "/v1/customer-alerts/get",
        {
            "alert_id": spend,
            "customer_id": world["customer"],
            "alert_specifiers": [{"custom_field_filters": [{**team, "value": "eu"}]}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("alert_specifiers: Only for ")
