"""Contract changes over time through the API: commit and credit end dates, one commit or credit
edited, amendments, usage filters, the edit history, the contract's effective rates; the draft
follows each change at once."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import AccessSegment, BalanceLedgerEntry, Commit, ContractEdit
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest

JAN = "2026-01-01T00:00:00Z"
NEXT_YEAR = "2027-01-01T00:00:00Z"
YEAR_AFTER = "2028-01-01T00:00:00Z"


@pytest.fixture
def world(db):
    metric = BillableMetricFactory(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[["project"]],
    )
    tokens = ProductFactory(name="Tokens", billable_metric=metric)
    card = RateCardFactory(name="Card")
    RateFactory(
        rate_card=card,
        product=tokens,
        price=Decimal(2),
        starting_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {
        "customer": CustomerFactory(name="Acme"),
        "card": card,
        "tokens": tokens,
        "fixed": ProductFactory(fixed=True, name="Prepaid"),
    }


def _contract(post, world, **extra) -> str:
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": JAN,
        "ending_before": NEXT_YEAR,
        **extra,
    }
    return data(post("/v1/contracts/create", body))["id"]


def _event(world, when: str, tokens: str, project: str, n: int) -> dict:
    return {
        "transaction_id": f"tx-{n}",
        "customer_id": str(world["customer"].pk),
        "event_type": "tokens_usage",
        "timestamp": when,
        "properties": {"num_tokens": tokens, "project": project},
    }


def _january(contract_id: str):
    invoice = Invoice.objects.get(
        contract_id=contract_id, type="USAGE", start_timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return invoice_view(invoice=invoice)


def _ref(world, contract_id, **extra):
    return {"contract_id": contract_id, "customer_id": str(world["customer"].pk), **extra}


def test_a_usage_filter_limits_the_draft_from_its_start(world, post):
    contract = _contract(post, world)
    ingest(
        [
            _event(world, "2026-01-10T00:00:00Z", "100", "b", 1),
            _event(world, "2026-01-20T00:00:00Z", "50", "b", 2),
            _event(world, "2026-01-21T00:00:00Z", "30", "a", 3),
        ],
        now=datetime(2026, 1, 22, tzinfo=UTC),
    )
    assert _january(contract).total == Decimal("360")
    response = post(
        "/v1/contracts/setUsageFilter",
        _ref(
            world,
            contract,
            group_key="project",
            group_values=["a"],
            starting_at="2026-01-15T00:00:00Z",
        ),
    )
    assert (response.status_code, response.content) == (200, b"")
    view = _january(contract)
    assert [(line.quantity, line.total) for line in view.lines] == [
        (Decimal("100"), Decimal("200")),
        (Decimal("30"), Decimal("60")),
    ]
    assert view.total == Decimal("260")
    got = data(post("/v2/contracts/get", _ref(world, contract)))
    assert got["usage_filter"] == [
        {"group_key": "project", "group_values": ["a"], "starting_at": "2026-01-15T00:00:00Z"}
    ]
    # A later filter ends the first one where it starts.
    post(
        "/v1/contracts/setUsageFilter",
        _ref(
            world,
            contract,
            group_key="project",
            group_values=["b"],
            starting_at="2026-02-01T00:00:00Z",
        ),
    )
    got = data(post("/v2/contracts/get", _ref(world, contract)))
    assert [(f["group_values"], f.get("ending_before")) for f in got["usage_filter"]] == [
        (["a"], "2026-02-01T00:00:00Z"),
        (["b"], None),
    ]


def test_a_usage_filter_given_at_create(world, post):
    contract = _contract(post, world, usage_filter={"group_key": "project", "group_values": ["a"]})
    ingest(
        [
            _event(world, "2026-01-10T00:00:00Z", "100", "b", 1),
            _event(world, "2026-01-21T00:00:00Z", "30", "a", 2),
        ],
        now=datetime(2026, 1, 22, tzinfo=UTC),
    )
    assert _january(contract).total == Decimal("60")


def test_an_amendment_changes_the_draft_at_once_and_is_listed(world, post):
    contract = _contract(post, world)
    ingest(
        [
            _event(world, "2026-01-10T00:00:00Z", "100", "a", 1),
            _event(world, "2026-01-20T00:00:00Z", "50", "a", 2),
        ],
        now=datetime(2026, 1, 22, tzinfo=UTC),
    )
    assert _january(contract).total == Decimal("300")
    amended = data(
        post(
            "/v1/contracts/amend",
            _ref(
                world,
                contract,
                starting_at="2026-01-15T00:00:00Z",
                overrides=[
                    {
                        "starting_at": "2026-01-15T00:00:00Z",
                        "product_id": str(world["tokens"].pk),
                        "type": "MULTIPLIER",
                        "multiplier": 0.5,
                    }
                ],
                custom_fields={"po": "77"},
            ),
        )
    )
    # 100 tokens before the override at 2, 50 after it at 1.
    assert _january(contract).total == Decimal("250")
    v1 = data(post("/v1/contracts/get", _ref(world, contract)))
    assert [a["id"] for a in v1["amendments"]] == [amended["id"]]
    assert v1["amendments"][0]["starting_at"] == "2026-01-15T00:00:00Z"
    assert [o["multiplier"] for o in v1["amendments"][0]["overrides"]] == [0.5]
    assert v1["initial"]["overrides"] == []
    assert [o["multiplier"] for o in v1["current"]["overrides"]] == [0.5]
    assert v1["custom_fields"] == {"po": "77"}
    history = data(post("/v2/contracts/getEditHistory", _ref(world, contract)))
    assert [h["id"] for h in history] == [amended["id"]]
    assert history[0]["add_overrides"][0]["multiplier"] == 0.5


def test_amendment_errors(world, post):
    contract = _contract(post, world)
    assert (
        error(
            post("/v1/contracts/amend", _ref(world, contract, starting_at="2030-01-01T00:00:00Z")),
            400,
        )
        == "starting_at: The amendment starts inside the contract."
    )
    assert (
        error(
            post(
                "/v1/contracts/amend",
                _ref(world, contract, starting_at=JAN, reseller_royalties=[{"fraction": 0.1}]),
            ),
            400,
        )
        == "reseller_royalties[0].reseller_type: This field is required."
    )
    aws = {"reseller_type": "AWS", "applicable_product_tags": ["cloud"]}
    for given, message in [
        (
            {"fraction": 0.1},
            "reseller_royalties[0].netsuite_reseller_id: Required for a new AWS royalty.",
        ),
        (
            {"fraction": 1.5, "netsuite_reseller_id": "r"},
            "reseller_royalties[0].fraction: Must be at most 1.",
        ),
        (
            {"fraction": 0.1, "netsuite_reseller_id": "r", "gcp_options": {"gcp_offer_id": "o"}},
            "reseller_royalties[0].gcp_options: Only for a GCP reseller.",
        ),
    ]:
        body = _ref(world, contract, starting_at=JAN, reseller_royalties=[{**aws, **given}])
        assert error(post("/v1/contracts/amend", body), 400) == message
    no_products = {"reseller_type": "GCP", "fraction": 0.1, "netsuite_reseller_id": "r"}
    body = _ref(world, contract, starting_at=JAN, reseller_royalties=[no_products])
    assert error(post("/v1/contracts/amend", body), 400) == (
        "reseller_royalties[0].applicable_product_ids: Give applicable_product_ids or "
        "applicable_product_tags (or both)."
    )
    assert error(post("/v1/contracts/amend", _ref(world, UNKNOWN, starting_at=JAN)), 404)


def _commit_contract(post, world, **commit) -> tuple[str, str]:
    contract = _contract(
        post,
        world,
        starting_at=NEXT_YEAR,
        ending_before=YEAR_AFTER,
        commits=[
            {
                "product_id": str(world["fixed"].pk),
                "type": commit.get("type", "PREPAID"),
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 1000, "starting_at": NEXT_YEAR, "ending_before": YEAR_AFTER}
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [
                        {"timestamp": NEXT_YEAR, "amount": 500},
                        {"timestamp": "2027-07-01T00:00:00Z", "amount": 500},
                    ]
                },
            }
        ],
    )
    commit_id = data(post("/v2/contracts/get", _ref(world, contract)))["commits"][0]["id"]
    return contract, commit_id


def test_commit_end_date_moves_earlier_and_its_drafts_follow(world, post):
    contract, commit_id = _commit_contract(post, world)
    scheduled = Invoice.objects.filter(contract_id=contract, type="SCHEDULED", status="DRAFT")
    assert sorted(i.start_timestamp.month for i in scheduled) == [1, 7]
    body = {
        "customer_id": str(world["customer"].pk),
        "commit_id": commit_id,
        "access_ending_before": "2027-06-01T00:00:00Z",
        "invoices_ending_before": "2027-07-01T00:00:00Z",
    }
    assert data(post("/v1/contracts/customerCommits/updateEndDate", body)) == {"id": commit_id}
    commit = Commit.objects.get(pk=commit_id)
    assert [(s.starting_at.month, s.ending_before.month) for s in commit.access_schedule.all()] == [
        (1, 6)
    ]
    assert [i.timestamp.month for i in commit.invoice_schedule.all()] == [1]
    assert sorted(i.start_timestamp.month for i in scheduled.all()) == [1]
    history = data(post("/v2/contracts/getEditHistory", _ref(world, contract)))
    assert history[-1]["update_commits"] == [{"id": commit_id}]
    later = {**body, "access_ending_before": "2027-09-01T00:00:00Z"}
    del later["invoices_ending_before"]
    assert "a later end is an edit" in error(
        post("/v1/contracts/customerCommits/updateEndDate", later), 400
    )


def test_commit_end_date_refuses_what_finalized_invoices_drew(world, post):
    contract, commit_id = _commit_contract(post, world)
    segment = AccessSegment.objects.get(commit_id=commit_id)
    BalanceLedgerEntry.objects.create(
        commit_id=commit_id,
        segment=segment,
        type="PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
        amount=Decimal(-10),
        timestamp=datetime(2027, 3, 1, tzinfo=UTC),
        invoice_id="00000000-0000-4000-8000-000000000001",
    )
    body = {
        "customer_id": str(world["customer"].pk),
        "commit_id": commit_id,
        "access_ending_before": "2027-02-01T00:00:00Z",
    }
    assert error(post("/v1/contracts/customerCommits/updateEndDate", body), 400) == (
        "access_ending_before: A finalized invoice ending 2027-03-01T00:00:00+00:00 drew from "
        "this balance; end it no earlier, or void that invoice first."
    )
    assert contract


def test_only_prepaid_commits_and_credits_have_their_end_date_updated(world, post):
    contract = _contract(
        post,
        world,
        starting_at=NEXT_YEAR,
        ending_before=YEAR_AFTER,
        credits=[
            {
                "product_id": str(world["fixed"].pk),
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 300, "starting_at": NEXT_YEAR, "ending_before": YEAR_AFTER}
                    ]
                },
            }
        ],
    )
    credit_id = data(post("/v2/contracts/get", _ref(world, contract)))["credits"][0]["id"]
    body = {
        "customer_id": str(world["customer"].pk),
        "credit_id": credit_id,
        "access_ending_before": "2027-04-01T00:00:00Z",
    }
    assert data(post("/v1/contracts/customerCredits/updateEndDate", body)) == {"id": credit_id}
    got = data(post("/v2/contracts/get", _ref(world, contract)))["credits"][0]
    assert got["access_schedule"]["schedule_items"][0]["ending_before"] == "2027-04-01T00:00:00Z"
    assert error(
        post("/v1/contracts/customerCredits/updateEndDate", {**body, "credit_id": UNKNOWN}), 404
    )
    assert error(
        post(
            "/v1/contracts/customerCommits/updateEndDate",
            {"customer_id": str(world["customer"].pk), "commit_id": credit_id},
        ),
        404,
    )


def test_edit_commit_and_credit(world, post):
    contract, commit_id = _commit_contract(post, world)
    body = {
        "customer_id": str(world["customer"].pk),
        "commit_id": commit_id,
        "name": "Annual prepay",
        "priority": 3,
        "access_schedule": {
            "add_schedule_items": [
                {"amount": 200, "starting_at": YEAR_AFTER, "ending_before": "2028-02-01T00:00:00Z"}
            ]
        },
        "invoice_schedule": {
            "add_schedule_items": [{"timestamp": "2027-10-01T00:00:00Z", "amount": 200}]
        },
    }
    assert data(post("/v2/contracts/commits/edit", body)) == {"id": commit_id}
    commit = data(post("/v2/contracts/get", _ref(world, contract)))["commits"][0]
    assert (commit["name"], commit["priority"]) == ("Annual prepay", 3)
    assert [i["amount"] for i in commit["access_schedule"]["schedule_items"]] == [1000, 200]
    assert [i["amount"] for i in commit["invoice_schedule"]["schedule_items"]] == [500, 500, 200]
    scheduled = Invoice.objects.filter(contract_id=contract, type="SCHEDULED", status="DRAFT")
    assert sorted(i.start_timestamp.month for i in scheduled) == [1, 7, 10]
    assert (
        error(
            post(
                "/v2/contracts/commits/edit",
                {**body, "applicable_contract_ids": [contract], "access_schedule": {}},
            ),
            400,
        )
        == "applicable_contract_ids: Only a customer-level balance applies to contracts."
    )
    assert ContractEdit.objects.filter(contract_id=contract).count() == 1


def test_edit_a_customer_level_credit(world, post):
    customer = str(world["customer"].pk)
    contract = _contract(post, world)
    credit = data(
        post(
            "/v1/contracts/customerCredits/create",
            {
                "customer_id": customer,
                "product_id": str(world["fixed"].pk),
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 100, "starting_at": JAN, "ending_before": NEXT_YEAR}
                    ]
                },
            },
        )
    )["id"]
    response = post(
        "/v2/contracts/credits/edit",
        {"customer_id": customer, "credit_id": credit, "applicable_contract_ids": [contract]},
    )
    assert data(response) == {"id": credit}
    listed = post("/v1/contracts/customerCredits/list", {"customer_id": customer}).json()["data"]
    assert listed[0]["applicable_contract_ids"] == [contract]
    assert (
        error(
            post(
                "/v2/contracts/credits/edit",
                {"customer_id": customer, "credit_id": credit, "specifiers": [{}]},
            ),
            400,
        )
        == "specifiers[0]: Give at least one of product_id, product_tags, pricing_group_values "
        "or presentation_group_values."
    )
    tokens = str(world["tokens"].pk)
    specifiers = [{"product_id": tokens, "pricing_group_values": {"project": "a"}}]
    response = post(
        "/v2/contracts/credits/edit",
        {"customer_id": customer, "credit_id": credit, "specifiers": specifiers},
    )
    assert data(response) == {"id": credit}
    listed = post("/v1/contracts/customerCredits/list", {"customer_id": customer}).json()["data"]
    assert listed[0]["specifiers"] == specifiers
    assert (
        error(
            post(
                "/v2/contracts/credits/edit",
                {
                    "customer_id": customer,
                    "credit_id": credit,
                    "applicable_product_ids": [tokens],
                },
            ),
            400,
        )
        == "specifiers: Cannot be used with applicable_product_ids; clear them (null) or put the "
        "products in the specifiers."
    )
    response = post(
        "/v2/contracts/credits/edit",
        {"customer_id": customer, "credit_id": credit, "specifiers": None},
    )
    listed = post("/v1/contracts/customerCredits/list", {"customer_id": customer}).json()["data"]
    assert "specifiers" not in listed[0]


def test_the_contract_rate_schedule_shows_overrides(world, post):
    contract = _contract(
        post,
        world,
        overrides=[
            {
                "starting_at": "2026-03-01T00:00:00Z",
                "product_id": str(world["tokens"].pk),
                "type": "MULTIPLIER",
                "multiplier": 0.25,
            }
        ],
    )
    url = "/v1/contracts/getContractRateSchedule"
    before = data(post(url, _ref(world, contract, at="2026-02-01T00:00:00Z")))
    assert [(r["product_name"], r["list_rate"]["price"], "override_rate" in r) for r in before] == [
        ("Tokens", 2, False)
    ]
    after = data(post(url, _ref(world, contract, at="2026-03-05T00:00:00Z")))
    assert [
        (r["list_rate"]["price"], r["override_rate"]["price"], r["starting_at"]) for r in after
    ] == [(2, 0.5, "2026-03-01T00:00:00Z")]
    assert (
        data(
            post(
                url,
                _ref(
                    world,
                    contract,
                    at="2026-03-05T00:00:00Z",
                    selectors=[{"product_tags": ["none"]}],
                ),
            )
        )
        == []
    )
