"""Alerts filtered on custom fields: only the commits, credits and contracts whose values match
count, several filters must all match, and a value changed after the alert exists re-evaluates
the customer at once."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from core.models import DomainEvent
from customers.models import Commit, Contract
from notifications.models import CustomerAlert
from tests.catalog.admin_posts import split_datetime
from tests.customers.test_admin import contract_data

from .conftest import USD, balance, stamp

pytestmark = pytest.mark.django_db


def _alerts(receiver) -> list[dict]:
    return [r.json for r in receiver.received if r.json["type"].startswith("alerts.")]


def _key(empty, entity, key):
    empty("/v1/customFields/addKey", {"entity": entity, "key": key, "enforce_uniqueness": False})


def _set(empty, entity, entity_id, **values):
    empty(
        "/v1/customFields/setValues",
        {"entity": entity, "entity_id": str(entity_id), "custom_fields": values},
    )


def _staff(*codenames, name="viewer") -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def _commit(world, **fields) -> Commit:
    return balance(world, "commit", **fields)


def _state(alert_id, customer_id) -> CustomerAlert:
    return CustomerAlert.objects.get(alert_id=alert_id, customer_id=customer_id)


def test_a_commit_filter_watches_only_the_tagged_commits_balance(empty, world, endpoint, receiver):
    _commit(world, priority=1, name="General")  # drawn first
    tagged = _commit(world, priority=2, name="EU team")
    _key(empty, "commit", "team")
    _set(empty, "commit", tagged.pk, team="eu")
    body = {
        "customer_id": world["customer"],
        "alert_type": "low_remaining_commit_balance_reached",
        "threshold": 200,
    }
    everyone = world["post"]("/v1/alerts/create", {**body, "name": "Any commit"})["id"]
    eu = world["post"](
        "/v1/alerts/create",
        {
            **body,
            "name": "EU commit",
            "custom_field_filters": [{"entity": "Commit", "key": "team", "value": "eu"}],
        },
    )["id"]

    world["ingest"](450)  # 900 cents, from General: 100 left there, EU team untouched
    assert _alerts(receiver) == []  # the commits hold 1,100 together: above 200
    state = _state(everyone, world["customer"])
    assert (state.status, state.value) == ("ok", Decimal("1100"))
    state = _state(eu, world["customer"])
    assert (state.status, state.value) == ("ok", Decimal("1000"))

    world["ingest"](500)  # 1,000 cents more: General's last 100, then 900 of EU team's
    fired = _alerts(receiver)
    assert [(f["properties"]["alert_id"], f["properties"]["remaining_balance"]) for f in fired] == [
        (everyone, 100),
        (eu, 100),
    ]
    assert _state(eu, world["customer"]).alarmed == [f"commits:{USD}"]


def test_a_contract_filter_limits_a_spend_alert_to_the_contracts_carrying_the_value(
    empty, world, endpoint, receiver, api_client
):
    _key(empty, "contract", "tier")
    other = world["post"]("/v1/customers", {"name": "Beta"})["id"]
    world["post"](
        "/v1/contracts/create",
        {
            "customer_id": other,
            "rate_card_id": world["rate_card"],
            "starting_at": stamp(world["start"]),
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
    )
    _set(empty, "contract", world["contract"], tier="gold")
    alert = world["post"](
        "/v1/alerts/create",
        {
            "name": "Gold spend",
            "alert_type": "spend_threshold_reached",
            "threshold": 1000,
            "custom_field_filters": [{"entity": "Contract", "key": "tier", "value": "gold"}],
        },
    )["id"]

    world["ingest"](600)  # Acme: 1,200 cents on its gold contract
    world["ingest"](700, customer_id=other)  # Beta: 1,400 cents, but not gold
    [fired] = _alerts(receiver)
    assert fired["properties"]["customer_id"] == world["customer"]
    assert fired["properties"]["current_spend"] == 1200
    beta = _state(alert, other)
    assert (beta.status, beta.value, beta.alarmed) == ("ok", None, [])
    listed = api_client.post("/v1/customer-alerts/list", {"customer_id": other}, format="json")
    [row] = listed.json()["data"]
    assert row["customer_status"] == "ok"
    assert row["alert"]["custom_field_filters"] == [
        {"entity": "Contract", "key": "tier", "value": "gold"}
    ]


def test_a_value_set_after_the_alert_exists_re_evaluates_the_customer(
    empty, world, endpoint, receiver
):
    _key(empty, "contract", "tier")
    alert = world["post"](
        "/v1/alerts/create",
        {
            "name": "Gold spend",
            "customer_id": world["customer"],
            "alert_type": "spend_threshold_reached",
            "threshold": 1000,
            "custom_field_filters": [{"entity": "Contract", "key": "tier", "value": "gold"}],
        },
    )["id"]
    world["ingest"](600)
    assert _alerts(receiver) == []
    assert _state(alert, world["customer"]).status == "ok"

    _set(empty, "contract", world["contract"], tier="gold")
    [fired] = _alerts(receiver)
    assert fired["properties"]["current_spend"] == 1200
    event = DomainEvent.objects.get(type="custom_fields.changed")
    assert str(event.customer_id) == world["customer"]
    assert event.payload == {
        "entity": "contract",
        "entity_id": world["contract"],
        "custom_fields": {"tier": "gold"},
    }

    empty(
        "/v1/customFields/deleteValues",
        {"entity": "contract", "entity_id": world["contract"], "keys": ["tier"]},
    )
    state = _state(alert, world["customer"])
    assert (state.status, state.value, state.alarmed) == ("ok", None, [])
    # custom_fields.changed is internal: no webhook carries it.
    assert [r.json["type"] for r in receiver.received] == ["alerts.spend_threshold_reached"]


def test_several_filters_must_all_match(empty, world, endpoint, receiver):
    _commit(world, priority=1, name="General")
    tagged = _commit(world, priority=2, name="EU team")
    _key(empty, "commit", "team")
    _key(empty, "contract", "tier")
    _set(empty, "commit", tagged.pk, team="eu")
    alert = world["post"](
        "/v1/alerts/create",
        {
            "name": "EU team on gold contracts",
            "customer_id": world["customer"],
            "alert_type": "low_remaining_contract_credit_and_commit_balance_reached",
            "threshold": 1500,
            "custom_field_filters": [
                {"entity": "ContractCreditOrCommit", "key": "team", "value": "eu"},
                {"entity": "Contract", "key": "tier", "value": "gold"},
            ],
        },
    )["id"]
    state = _state(alert, world["customer"])
    assert (state.status, state.value) == ("ok", None)  # the contract is not gold: nothing counts

    _set(empty, "contract", world["contract"], tier="gold")
    [fired] = _alerts(receiver)  # only EU team's 1,000 counts (General's would make it 2,000)
    assert fired["properties"]["remaining_balance"] == 1000
    assert _state(alert, world["customer"]).value == Decimal("1000")


def test_a_usage_alert_with_a_contract_filter_measures_only_a_matching_contracts_period(
    empty, world
):
    _key(empty, "contract", "tier")
    alert = world["post"](
        "/v1/alerts/create",
        {
            "name": "Gold tokens",
            "customer_id": world["customer"],
            "alert_type": "usage_threshold_reached",
            "billable_metric_id": world["metric"],
            "threshold": 1000,
            "custom_field_filters": [{"entity": "Contract", "key": "tier", "value": "gold"}],
        },
    )["id"]
    world["ingest"](300)
    assert _state(alert, world["customer"]).value is None
    _set(empty, "contract", world["contract"], tier="gold")
    assert _state(alert, world["customer"]).value == Decimal("300")


def _contract_form(world, **overrides) -> dict:
    contract = Contract.objects.get(pk=world["contract"])
    return contract_data(
        contract.customer,
        contract.rate_card,
        name=contract.name,
        **split_datetime("starting_at", contract.starting_at),
        **overrides,
    )


def test_a_value_set_in_the_contracts_admin_form_re_evaluates_at_once(
    empty, world, endpoint, receiver, client
):
    _key(empty, "contract", "tier")
    alert = world["post"](
        "/v1/alerts/create",
        {
            "name": "Gold spend",
            "customer_id": world["customer"],
            "alert_type": "spend_threshold_reached",
            "threshold": 1000,
            "custom_field_filters": [{"entity": "Contract", "key": "tier", "value": "gold"}],
        },
    )["id"]
    world["ingest"](600)  # 1,200 cents, but the contract is not gold
    assert _state(alert, world["customer"]).status == "ok"
    url = reverse("admin:customers_contract_change", args=[world["contract"]])

    client.force_login(_staff("view_contract"))
    refused = client.post(url, _contract_form(world, custom_fields='{"tier": "gold"}'))
    assert refused.status_code == 403
    assert Contract.objects.get(pk=world["contract"]).custom_fields == {}

    client.force_login(_staff("view_contract", "change_contract", name="finance"))
    unknown = client.post(url, _contract_form(world, custom_fields='{"region": "eu"}'))
    assert unknown.status_code == 200
    assert unknown.context["adminform"].form.errors["custom_fields"] == [
        "'region' is not a custom field key of contract; add it with /v1/customFields/addKey first."
    ]
    assert not DomainEvent.objects.filter(type="custom_fields.changed").exists()

    saved = client.post(url, _contract_form(world, custom_fields='{"tier": "gold"}'))
    assert saved.status_code == 302
    # No sweep ran: the form's write recorded custom_fields.changed, which queued the customer.
    [fired] = _alerts(receiver)
    assert fired["properties"]["alert_id"] == alert
    assert fired["properties"]["current_spend"] == 1200
    event = DomainEvent.objects.get(type="custom_fields.changed")
    assert event.payload == {
        "entity": "contract",
        "entity_id": world["contract"],
        "custom_fields": {"tier": "gold"},
    }
    assert _state(alert, world["customer"]).status == "in_alarm"

    again = client.post(url, _contract_form(world, custom_fields='{"tier": "gold"}'))
    assert again.status_code == 302
    assert DomainEvent.objects.filter(type="custom_fields.changed").count() == 1

    cleared = client.post(url, _contract_form(world, custom_fields="{}"))
    assert cleared.status_code == 302
    assert Contract.objects.get(pk=world["contract"]).custom_fields == {}
    assert _state(alert, world["customer"]).status == "ok"
