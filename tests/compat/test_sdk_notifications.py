"""Alerts and v2 notifications through the official SDK in strict mode."""

import metronome
import pytest

from tests.compat.conftest import USD


def test_alert_create_list_get_reset_and_archive(client, world):
    customer = world["customer"].id
    spend = client.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="Spend over $100",
        threshold=10000,
        customer_id=customer,
        credit_type_id=USD,
        uniqueness_key="spend-100",
    )
    usage = client.v1.alerts.create(
        alert_type="usage_threshold_reached",
        name="A million tokens in EU",
        threshold=1_000_000,
        billable_metric_id=world["metric"],
        group_values=[{"key": "region", "value": "eu"}],
    )

    page = client.v1.customers.alerts.list(customer_id=customer)
    listed = {row.alert.id: row for row in page.data}
    assert set(listed) == {spend.data.id, usage.data.id}
    assert listed[spend.data.id].alert.type == "spend_threshold_reached"
    assert listed[spend.data.id].alert.threshold == 10000
    assert listed[spend.data.id].alert.credit_type.id == USD
    assert listed[spend.data.id].alert.status == "enabled"
    assert listed[spend.data.id].customer_status in ("ok", "evaluating")

    got = client.v1.customers.alerts.retrieve(alert_id=usage.data.id, customer_id=customer)
    assert got.data.alert.name == "A million tokens in EU"
    assert got.data.alert.group_values[0].key == "region"
    # A global alert watches customers with a contract; this one has none yet.
    assert got.data.customer_status == "evaluating"

    assert client.v1.customers.alerts.reset(alert_id=spend.data.id, customer_id=customer) is None

    archived = client.v1.alerts.archive(id=spend.data.id, release_uniqueness_key=True)
    assert archived.data.id == spend.data.id
    after = client.v1.customers.alerts.retrieve(alert_id=spend.data.id, customer_id=customer)
    assert after.data.customer_status is None
    assert after.data.alert.status == "archived"
    statuses = client.v1.customers.alerts.list(customer_id=customer, alert_statuses=["ARCHIVED"])
    assert [row.alert.id for row in statuses.data] == [spend.data.id]
    again = client.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="Spend over $100 again",
        threshold=10000,
        customer_id=customer,
        uniqueness_key="spend-100",
    )
    assert again.data.id != spend.data.id


def test_alert_errors_are_400_with_a_message(client, world):
    with pytest.raises(metronome.BadRequestError) as unknown:
        client.v1.alerts.create(
            alert_type="usage_threshold_reached",
            name="x",
            threshold=1,
            billable_metric_id="8f4ab5f7-2b7c-4e8b-9a39-6f7d4f6a8d11",
        )
    assert unknown.value.body["message"] == (
        "billable_metric_id: Billable metric 8f4ab5f7-2b7c-4e8b-9a39-6f7d4f6a8d11 not found."
    )
    with pytest.raises(metronome.BadRequestError) as custom:
        client.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="x",
            threshold=1,
            custom_field_filters=[{"entity": "Contract", "key": "tier", "value": "gold"}],
        )
    assert custom.value.body["message"] == (
        "custom_field_filters[0].key: 'tier' is not a custom field key of contract; add it with "
        "/v1/customFields/addKey first."
    )


def test_alerts_filtered_on_custom_fields_show_their_filters(client, world):
    customer = world["customer"].id
    client.v1.custom_fields.add_key(entity="contract", key="tier", enforce_uniqueness=False)
    client.v1.custom_fields.add_key(entity="commit", key="team", enforce_uniqueness=False)
    filters = [
        {"entity": "Contract", "key": "tier", "value": "gold"},
        {"entity": "Commit", "key": "team", "value": "eu"},
    ]
    balance = client.v1.alerts.create(
        alert_type="low_remaining_commit_balance_reached",
        name="EU team's commit is low",
        threshold=500,
        customer_id=customer,
        custom_field_filters=filters,
    )
    spend = client.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="Gold contracts' spend",
        threshold=10000,
        custom_field_filters=filters[:1],
    )

    got = client.v1.customers.alerts.retrieve(alert_id=balance.data.id, customer_id=customer)
    assert [f.to_dict() for f in got.data.alert.custom_field_filters] == filters
    listed = {
        row.alert.id: row.alert for row in client.v1.customers.alerts.list(customer_id=customer)
    }
    assert [f.to_dict() for f in listed[spend.data.id].custom_field_filters] == filters[:1]
    assert [f.to_dict() for f in listed[balance.data.id].custom_field_filters] == filters

    for bad, message in (
        (
            {"entity": "Commit", "key": "team", "value": "eu"},
            "custom_field_filters[0].entity: A Commit filter does not apply to "
            "spend_threshold_reached alerts.",
        ),
        (
            {"entity": "Contract", "key": "team", "value": "eu"},
            "custom_field_filters[0].key: 'team' is not a custom field key of contract; add it "
            "with /v1/customFields/addKey first.",
        ),
        (
            {"entity": "Customer", "key": "tier", "value": "gold"},
            "custom_field_filters[0].entity: 'Customer' is not one of Contract, Commit, "
            "ContractCredit, ContractCreditOrCommit.",
        ),
        (
            {"entity": "Contract", "key": "tier"},
            "custom_field_filters[0].value: This field is required.",
        ),
    ):
        with pytest.raises(metronome.BadRequestError) as refused:
            client.v1.alerts.create(
                alert_type="spend_threshold_reached",
                name="x",
                threshold=1,
                custom_field_filters=[bad],
            )
        assert refused.value.body["message"] == message


def test_offset_notifications_and_system_notifications(client):
    created = client.v2.notifications.offset.create(
        name="A week before the contract ends",
        policy={"type": "contract.end", "offset": "-P7D"},
        uniqueness_key="week-before-end",
    )
    assert created.data.policy.offset == "-P7D"
    assert created.data.type == "offset"
    got = client.v2.notifications.offset.retrieve(id=created.data.id)
    assert got.data.name == "A week before the contract ends"

    edited = client.v2.notifications.offset.edit(
        id=created.data.id, policy={"type": "contract.end", "offset": "-P3D"}
    )
    assert edited.data.policy.offset == "-P3D"

    listed = client.v2.notifications.offset.list()
    assert [row.id for row in listed] == [created.data.id]

    system = client.v2.notifications.system.list()
    types = {row.policy.type: row.is_enabled for row in system.data}
    assert types["contract.start"] is True
    switched = client.v2.notifications.offset.edit(
        policy={"type": "contract.start"}, is_enabled=False
    )
    assert switched.data.is_enabled is False
    system = client.v2.notifications.system.list()
    assert {row.policy.type: row.is_enabled for row in system.data}["contract.start"] is False

    archived = client.v2.notifications.offset.archive(id=created.data.id)
    assert archived.data.archived_at is not None
    assert list(client.v2.notifications.offset.list()) == []
    assert [r.id for r in client.v2.notifications.offset.list(archive_filter="ALL")] == [
        created.data.id
    ]


def test_alert_specifiers_round_trip_in_the_sdks_shape(client, world):
    customer = world["customer"].id
    client.v1.custom_fields.add_key(entity="commit", key="team", enforce_uniqueness=False)
    client.v1.custom_fields.add_key(
        entity="contract_credit", key="perpetual", enforce_uniqueness=False
    )
    specifiers = [
        {
            "custom_field_filters": [{"entity": "ContractCreditOrCommit", "key": "team"}],
            "exclude": [
                {
                    "custom_field_filters": [
                        {"entity": "ContractCredit", "key": "perpetual", "value": "yes"}
                    ]
                }
            ],
        }
    ]
    created = client.v1.alerts.create(
        alert_type="low_remaining_contract_credit_and_commit_balance_reached",
        name="A team's balance is low",
        threshold=500,
        customer_id=customer,
        alert_specifiers=specifiers,
    )
    listed = {
        row.alert.id: row.alert for row in client.v1.customers.alerts.list(customer_id=customer)
    }
    shown = listed[created.data.id].alert_specifiers
    assert [s.to_dict() for s in shown] == specifiers
    assert shown[0].custom_field_filters[0].value is None

    group = [
        {
            "custom_field_filters": [
                {"entity": "ContractCreditOrCommit", "key": "team", "value": "eu"}
            ]
        }
    ]
    got = client.v1.customers.alerts.retrieve(
        alert_id=created.data.id, customer_id=customer, alert_specifiers=group
    )
    assert [s.to_dict() for s in got.data.alert.alert_specifiers] == specifiers
    assert got.data.customer_status in ("ok", "evaluating")

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="x",
            threshold=1,
            alert_specifiers=specifiers,
        )
    assert refused.value.body["message"] == (
        "alert_specifiers: Only for low_remaining_contract_credit_and_commit_balance_reached and "
        "low_remaining_contract_credit_and_commit_percentage_reached alerts, not "
        "spend_threshold_reached."
    )
