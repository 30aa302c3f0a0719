"""/v1/contracts/* and /v2/contracts/* (reference 3.6)."""

import pytest

from invoicing.models import Invoice
from tests.api.conftest import UNKNOWN, USD, data, error
from tests.catalog.factories import ProductFactory, RateCardAliasFactory, RateCardFactory
from tests.customers.factories import CustomerFactory

START = "2024-01-01T00:00:00Z"
END = "2025-01-01T00:00:00Z"


@pytest.fixture
def card(db):
    return RateCardFactory(name="Standard")


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Acme")


@pytest.fixture
def fixed(db):
    return ProductFactory(fixed=True, name="Prepaid commit")


@pytest.fixture
def seat(db):
    return ProductFactory(subscription=True, name="Seat")


def base(customer, card, **extra):
    return {
        "customer_id": str(customer.pk),
        "rate_card_id": str(card.pk),
        "starting_at": START,
        **extra,
    }


@pytest.fixture
def contract(post, customer, card):
    body = base(
        customer,
        card,
        name="Annual",
        ending_before=END,
        usage_statement_schedule={"frequency": "monthly", "day": "first_of_month"},
        net_payment_terms_days=15,
        custom_fields={"crm": "42"},
    )
    return data(post("/v1/contracts/create", body))


def ref(contract, customer, **extra):
    return {"contract_id": contract["id"], "customer_id": str(customer.pk), **extra}


def test_create_answers_the_id_and_makes_the_draft_invoice(contract):
    assert set(contract) == {"id"}
    assert Invoice.objects.filter(contract_id=contract["id"], status="DRAFT").exists()


def test_v2_get_answers_the_flat_contract(contract, customer, card, post):
    got = data(post("/v2/contracts/get", ref(contract, customer)))
    assert {k: v for k, v in got.items() if k != "created_at"} == {
        "id": contract["id"],
        "customer_id": str(customer.pk),
        "created_by": "api:tests",
        "starting_at": START,
        "ending_before": END,
        "name": "Annual",
        "rate_card_id": str(card.pk),
        "net_payment_terms_days": 15,
        "multiplier_override_prioritization": "LOWEST_MULTIPLIER",
        "usage_statement_schedule": {"billing_anchor_date": START, "frequency": "MONTHLY"},
        "transitions": [],
        "commits": [],
        "credits": [],
        "overrides": [],
        "scheduled_charges": [],
        "subscriptions": [],
        "usage_filter": [],
        "custom_fields": {"crm": "42"},
        "archived_at": None,
    }


def test_v1_get_answers_initial_and_current(contract, customer, post):
    got = data(post("/v1/contracts/get", ref(contract, customer)))
    assert got["amendments"] == []
    assert got["initial"] == got["current"]
    assert got["current"]["usage_statement_schedule"]["frequency"] == "MONTHLY"
    assert got["current"]["name"] == "Annual"


def test_create_by_rate_card_alias(post, customer, card):
    RateCardAliasFactory(rate_card=card, name="std")
    body = base(customer, card, rate_card_alias="std")
    body.pop("rate_card_id")
    created = data(post("/v1/contracts/create", body))
    got = data(post("/v2/contracts/get", ref(created, customer)))
    assert got["rate_card_id"] == str(card.pk)


def test_a_reused_uniqueness_key_is_409_not_retried(post, customer, card):
    data(post("/v1/contracts/create", base(customer, card, uniqueness_key="k-1")))
    response = post("/v1/contracts/create", base(customer, card, uniqueness_key="k-1"))
    assert error(response, 409) == "uniqueness_key: 'k-1' was already used to create a contract."
    assert response["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"customer_id": None}, 400, "customer_id: This field may not be null."),
        ({"starting_at": "soon"}, 400, "starting_at: 'soon' is not an RFC 3339 timestamp."),
        ({"ending_before": "2023-01-01T00:00:00Z"}, 400, "ending_before: Must be after the start."),
        ({"rate_card_id": None}, 400, "rate_card_id: This field may not be null."),
        ({"customer_id": UNKNOWN}, 404, f"Customer {UNKNOWN} not found."),
        ({"rate_card_id": UNKNOWN}, 404, f"Rate card {UNKNOWN} not found."),
        (
            {"rate_card_alias": "nope"},
            400,
            "rate_card_id: Give either rate_card_id or rate_card_alias.",
        ),
        (
            {"usage_statement_schedule": {"frequency": "MONTHLY", "day": "CUSTOM_DATE"}},
            400,
            "usage_statement_schedule.billing_anchor_date: Required with the day CUSTOM_DATE.",
        ),
        (
            {"usage_statement_schedule": {}},
            400,
            "usage_statement_schedule.frequency: This field is required.",
        ),
        (
            {"transition": {"from_contract_id": UNKNOWN, "type": "RENEWAL"}},
            400,
            f"transition.from_contract_id: No contract {UNKNOWN}.",
        ),
        ({"uniqueness_key": ""}, 400, "uniqueness_key: This field may not be blank."),
    ],
)
def test_create_errors(post, customer, card, change, status, message):
    assert error(post("/v1/contracts/create", base(customer, card) | change), status) == message


def test_create_needs_a_customer_id(post, card):
    body = {"rate_card_id": str(card.pk), "starting_at": START}
    assert error(post("/v1/contracts/create", body), 400) == "customer_id: This field is required."


def test_an_archived_rate_card_or_customer_takes_no_new_contracts(post, customer, card):
    data(post("/v1/contract-pricing/rate-cards/archive", {"id": str(card.pk)}))
    assert error(post("/v1/contracts/create", base(customer, card)), 400) == (
        "rate_card_id: This rate card is archived; new contracts cannot use it."
    )
    other = RateCardFactory()
    data(post("/v1/customers/archive", {"id": str(customer.pk)}))
    assert error(post("/v1/contracts/create", base(customer, other)), 400) == (
        "customer_id: This customer is archived; it cannot get new contracts."
    )


def test_create_with_terms_then_get_them(post, customer, card, fixed, seat):
    body = base(
        customer,
        card,
        multiplier_override_prioritization="EXPLICIT",
        commits=[
            {
                "product_id": str(fixed.pk),
                "type": "prepaid",
                "name": "Prepaid",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 10000, "starting_at": START, "ending_before": END}
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": START, "amount": 10000}]},
            }
        ],
        credits=[
            {
                "product_id": str(fixed.pk),
                "access_schedule": {
                    "schedule_items": [{"amount": 500, "starting_at": START, "ending_before": END}]
                },
            }
        ],
        overrides=[
            {
                "starting_at": START,
                "type": "MULTIPLIER",
                "multiplier": 0.9,
                "priority": 1,
                "applicable_product_tags": ["api"],
            },
            {
                "starting_at": START,
                "overwrite_rate": {"rate_type": "FLAT", "price": 2},
                "product_id": str(fixed.pk),
            },
        ],
        scheduled_charges=[
            {
                "product_id": str(fixed.pk),
                "name": "Setup",
                "schedule": {
                    "schedule_items": [{"timestamp": START, "unit_price": 100, "quantity": 2}]
                },
            }
        ],
        subscriptions=[
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": str(seat.pk), "billing_frequency": "MONTHLY"},
                "initial_quantity": 3,
            }
        ],
    )
    created = data(post("/v1/contracts/create", body))
    got = data(post("/v2/contracts/get", ref(created, customer)))
    [commit] = got["commits"]
    assert commit["type"] == "PREPAID"
    assert commit["name"] == "Prepaid"
    assert commit["priority"] == 1
    assert commit["access_schedule"]["credit_type"] == {"id": USD, "name": "USD (cents)"}
    assert [
        (i["amount"], i["starting_at"], i["ending_before"])
        for i in commit["access_schedule"]["schedule_items"]
    ] == [(10000, START, END)]
    assert [
        (i["amount"], i["quantity"], i["unit_price"])
        for i in commit["invoice_schedule"]["schedule_items"]
    ] == [(10000, 1, 10000)]
    [credit] = got["credits"]
    assert credit["type"] == "CREDIT"
    assert credit["access_schedule"]["schedule_items"][0]["amount"] == 500
    multiplier, overwrite = got["overrides"]
    assert (
        multiplier["type"],
        multiplier["multiplier"],
        multiplier["applicable_product_tags"],
    ) == (
        "MULTIPLIER",
        0.9,
        ["api"],
    )
    assert overwrite["type"] == "OVERWRITE"
    assert overwrite["overwrite_rate"] == {
        "rate_type": "FLAT",
        "price": 2,
        "credit_type": {"id": USD, "name": "USD (cents)"},
    }
    assert overwrite["product"] == {"id": str(fixed.pk), "name": "Prepaid commit"}
    [charge] = got["scheduled_charges"]
    assert charge["name"] == "Setup"
    assert [
        (i["amount"], i["quantity"], i["unit_price"]) for i in charge["schedule"]["schedule_items"]
    ] == [(200, 2, 100)]
    [subscription] = got["subscriptions"]
    assert subscription["quantity_schedule"] == [{"quantity": 3, "starting_at": START}]
    assert subscription["subscription_rate"] == {
        "billing_frequency": "MONTHLY",
        "product": {"id": str(seat.pk), "name": "Seat"},
    }


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (
            {
                "commits": [
                    {
                        "product_id": "SEAT",
                        "type": "PREPAID",
                        "access_schedule": {
                            "schedule_items": [
                                {"amount": 1, "starting_at": START, "ending_before": END}
                            ]
                        },
                    }
                ]
            },
            "commits[0].product_id: Commits and credits use a fixed product.",
        ),
        (
            {
                "credits": [
                    {
                        "product_id": "FIXED",
                        "access_schedule": {
                            "schedule_items": [
                                {
                                    "amount": 1,
                                    "starting_at": "2024-01-01T00:15:00Z",
                                    "ending_before": END,
                                }
                            ]
                        },
                    }
                ]
            },
            "credits[0].access_schedule.schedule_items[0].starting_at: Must be on an hour boundary (minutes and seconds zero, UTC).",
        ),
        (
            {"credits": [{"product_id": "FIXED", "access_schedule": {"schedule_items": []}}]},
            "credits[0].access_schedule.schedule_items: This list may not be empty.",
        ),
        (
            {"overrides": [{"starting_at": START, "type": "MULTIPLIER"}]},
            "overrides[0].multiplier: A multiplier override needs a multiplier.",
        ),
        (
            {"overrides": [{"starting_at": START, "type": "TIERED", "tiers": [{"multiplier": 1}]}]},
            "overrides[0].type: Tiered overrides need the contract's explicit override priority.",
        ),
        (
            {
                "scheduled_charges": [
                    {"product_id": "FIXED", "schedule": {"schedule_items": [{"timestamp": START}]}}
                ]
            },
            "scheduled_charges[0].schedule.schedule_items[0]: Give an amount, or a unit price and a quantity.",
        ),
        (
            {
                "subscriptions": [
                    {
                        "collection_schedule": "ADVANCE",
                        "proration": {},
                        "subscription_rate": {
                            "product_id": "FIXED",
                            "billing_frequency": "MONTHLY",
                        },
                    }
                ]
            },
            "subscriptions[0].product_id: Subscriptions use a subscription product.",
        ),
    ],
)
def test_term_errors_name_the_term(post, customer, card, fixed, seat, terms, message):
    ids = {"SEAT": str(seat.pk), "FIXED": str(fixed.pk)}

    def resolve(value):
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    body = base(customer, card) | resolve(terms)
    assert error(post("/v1/contracts/create", body), 400) == message


def test_unknown_term_product_is_404(post, customer, card):
    body = base(
        customer,
        card,
        scheduled_charges=[
            {
                "product_id": UNKNOWN,
                "schedule": {"schedule_items": [{"timestamp": START, "amount": 1}]},
            }
        ],
    )
    assert error(post("/v1/contracts/create", body), 404) == f"Product {UNKNOWN} not found."


def test_get_unknown_foreign_or_malformed(contract, customer, post):
    stranger = CustomerFactory()
    assert error(post("/v2/contracts/get", ref(contract, stranger)), 404) == (
        f"Contract {contract['id']} not found."
    )
    assert error(
        post("/v2/contracts/get", {"contract_id": UNKNOWN, "customer_id": str(customer.pk)}), 404
    )
    assert error(
        post("/v1/contracts/get", {"contract_id": "x", "customer_id": str(customer.pk)}), 400
    ) == ("contract_id: 'x' is not a valid UUID.")
    assert error(post("/v1/contracts/get", {"customer_id": str(customer.pk)}), 400) == (
        "contract_id: This field is required."
    )


@pytest.mark.parametrize("path", ["/v1/contracts/list", "/v2/contracts/list"])
def test_list_pages_with_the_body_cursor(path, post, customer, card):
    ids = [
        data(post("/v1/contracts/create", base(customer, card, name=f"K{i}")))["id"]
        for i in range(3)
    ]
    seen, cursor = [], None
    while True:
        page = post(
            path,
            {"customer_id": str(customer.pk), "limit": 1, **({"cursor": cursor} if cursor else {})},
        ).json()
        assert set(page) == {"data", "cursor"}
        seen += [c["id"] for c in page["data"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == ids


def test_list_filters(post, customer, card):
    old = data(
        post("/v1/contracts/create", base(customer, card, ending_before="2024-06-01T00:00:00Z"))
    )
    new = data(
        post("/v1/contracts/create", base(customer, card, starting_at="2024-06-01T00:00:00Z"))
    )
    gone = data(post("/v1/contracts/create", base(customer, card)))
    data(post("/v1/contracts/archive", ref(gone, customer, void_invoices=False)))

    def ids(**body):
        return [
            c["id"]
            for c in data(post("/v2/contracts/list", {"customer_id": str(customer.pk), **body}))
        ]

    assert ids() == [old["id"], new["id"]]
    assert ids(include_archived=True) == [old["id"], new["id"], gone["id"]]
    assert ids(covering_date="2024-07-01T00:00:00Z") == [new["id"]]
    assert ids(starting_at="2024-03-01T00:00:00Z") == [new["id"]]
    assert error(
        post("/v2/contracts/list", {"customer_id": str(customer.pk), "limit": 21}), 400
    ) == ("limit: Must be at most 20.")
    assert error(post("/v2/contracts/list", {}), 400) == "customer_id: This field is required."


def test_archive(contract, customer, post):
    assert error(post("/v1/contracts/archive", ref(contract, customer)), 400) == (
        "void_invoices: This field is required."
    )
    assert (
        data(post("/v1/contracts/archive", ref(contract, customer, void_invoices=True))) == contract
    )
    assert data(post("/v2/contracts/get", ref(contract, customer)))["archived_at"].endswith("Z")
    assert error(
        post("/v1/contracts/archive", ref(contract, customer, void_invoices=True)), 400
    ) == ("This contract is already archived.")


def test_update_end_date(contract, customer, post):
    body = ref(contract, customer, ending_before="2024-07-01T00:00:00Z")
    assert data(post("/v1/contracts/updateEndDate", body)) == contract
    assert (
        data(post("/v2/contracts/get", ref(contract, customer)))["ending_before"]
        == "2024-07-01T00:00:00Z"
    )
    data(post("/v1/contracts/updateEndDate", ref(contract, customer)))
    assert "ending_before" not in data(post("/v2/contracts/get", ref(contract, customer)))
    bad = ref(contract, customer, ending_before="2023-01-01T00:00:00Z")
    assert (
        error(post("/v1/contracts/updateEndDate", bad), 400)
        == "ending_before: Must be after the start."
    )
    data(post("/v1/contracts/archive", ref(contract, customer, void_invoices=False)))
    assert error(post("/v1/contracts/updateEndDate", body), 400) == (
        "This contract is archived; it cannot be changed."
    )


def test_v2_edit_changes_name_end_date_and_terms(contract, customer, post, fixed):
    added = data(
        post(
            "/v2/contracts/edit",
            ref(
                contract,
                customer,
                update_contract_name="Annual (renamed)",
                update_contract_end_date="2025-06-01T00:00:00Z",
                add_overrides=[
                    {"starting_at": START, "multiplier": 0.5, "product_id": str(fixed.pk)}
                ],
                add_credits=[
                    {
                        "product_id": str(fixed.pk),
                        "access_schedule": {
                            "schedule_items": [
                                {"amount": 700, "starting_at": START, "ending_before": END}
                            ]
                        },
                    }
                ],
                uniqueness_key="edit-1",
            ),
        )
    )
    assert added["id"] == contract["id"]
    edit = added["edit"]
    assert edit["update_contract_name"] == "Annual (renamed)"
    assert edit["update_contract_end_date"] == "2025-06-01T00:00:00Z"
    assert edit["uniqueness_key"] == "edit-1"
    [override] = edit["add_overrides"]
    [credit] = edit["add_credits"]
    got = data(post("/v2/contracts/get", ref(contract, customer)))
    assert (got["name"], got["ending_before"]) == ("Annual (renamed)", "2025-06-01T00:00:00Z")
    assert [o["id"] for o in got["overrides"]] == [override["id"]]
    assert [c["access_schedule"]["schedule_items"][0]["amount"] for c in got["credits"]] == [700]
    removed = data(
        post(
            "/v2/contracts/edit",
            ref(
                contract,
                customer,
                remove_overrides=[{"id": override["id"]}],
                archive_credits=[{"id": credit["id"]}],
            ),
        )
    )
    assert removed["edit"]["remove_overrides"] == [{"id": override["id"]}]
    got = data(post("/v2/contracts/get", ref(contract, customer)))
    assert got["overrides"] == []
    assert got["credits"][0]["archived_at"].endswith("Z")


def test_v2_edit_errors(contract, customer, post):
    data(
        post(
            "/v2/contracts/edit",
            ref(contract, customer, update_contract_name="x", uniqueness_key="e"),
        )
    )
    response = post(
        "/v2/contracts/edit", ref(contract, customer, update_contract_name="y", uniqueness_key="e")
    )
    assert error(response, 409) == "uniqueness_key: 'e' was already used to create a contract edit."
    assert response["x-should-retry"] == "false"
    assert error(
        post("/v2/contracts/edit", ref(contract, customer, update_subscriptions=[{"id": UNKNOWN}])),
        400,
    ) == ("update_subscriptions[0].subscription_id: This field is required.")
    assert error(
        post("/v2/contracts/edit", ref(contract, customer, add_spend_trackers=[{"alias": "x"}])),
        400,
    ) == (
        "add_spend_trackers[0].applicable_spend_specifiers: This field is required.; "
        "add_spend_trackers[0].credit_type_id: This field is required.; "
        "add_spend_trackers[0].reset_frequency: This field is required."
    )
    assert error(
        post("/v2/contracts/edit", ref(contract, customer, remove_overrides=[{"id": UNKNOWN}])), 400
    ) == (f"remove_overrides[0].id: This contract has no such term ({UNKNOWN}).")
    assert error(
        post(
            "/v2/contracts/edit",
            ref(contract, customer, update_contract_end_date="2020-01-01T00:00:00Z"),
        ),
        400,
    ) == ("ending_before: Must be after the start.")
    data(post("/v1/contracts/archive", ref(contract, customer, void_invoices=False)))
    assert error(
        post("/v2/contracts/edit", ref(contract, customer, update_contract_name="z")), 400
    ) == ("This contract is archived; it cannot be changed.")


def test_v2_edit_updates_commits_credits_and_scheduled_charges(post, customer, card, fixed):
    segment = {"amount": 1000, "starting_at": START, "ending_before": END}
    created = data(
        post(
            "/v1/contracts/create",
            base(
                customer,
                card,
                commits=[
                    {
                        "product_id": str(fixed.pk),
                        "type": "PREPAID",
                        "access_schedule": {"schedule_items": [segment]},
                        "invoice_schedule": {
                            "schedule_items": [{"timestamp": START, "amount": 1000}]
                        },
                    }
                ],
                credits=[
                    {"product_id": str(fixed.pk), "access_schedule": {"schedule_items": [segment]}}
                ],
                scheduled_charges=[
                    {
                        "product_id": str(fixed.pk),
                        "schedule": {"schedule_items": [{"timestamp": START, "amount": 50}]},
                    }
                ],
            ),
        )
    )
    before = data(post("/v2/contracts/get", ref(created, customer)))
    commit, credit, charge = (
        before["commits"][0],
        before["credits"][0],
        before["scheduled_charges"][0],
    )
    later = {"amount": 300, "starting_at": END, "ending_before": "2026-01-01T00:00:00Z"}
    edit = data(
        post(
            "/v2/contracts/edit",
            ref(
                created,
                customer,
                update_commits=[
                    {
                        "commit_id": commit["id"],
                        "name": "Renamed",
                        "priority": 5,
                        "access_schedule": {
                            "update_schedule_items": [
                                {
                                    "id": commit["access_schedule"]["schedule_items"][0]["id"],
                                    "amount": 800,
                                }
                            ],
                            "add_schedule_items": [later],
                        },
                        "invoice_schedule": {
                            "update_schedule_items": [
                                {
                                    "id": commit["invoice_schedule"]["schedule_items"][0]["id"],
                                    "amount": 800,
                                }
                            ]
                        },
                    }
                ],
                update_credits=[{"credit_id": credit["id"], "applicable_product_tags": ["api"]}],
                update_scheduled_charges=[
                    {
                        "scheduled_charge_id": charge["id"],
                        "invoice_schedule": {
                            "remove_schedule_items": [
                                {"id": charge["schedule"]["schedule_items"][0]["id"]}
                            ],
                            "add_schedule_items": [
                                {"timestamp": END, "unit_price": 25, "quantity": 4}
                            ],
                        },
                    }
                ],
            ),
        )
    )["edit"]
    assert edit["update_commits"] == [{"id": commit["id"]}]
    after = data(post("/v2/contracts/get", ref(created, customer)))
    commit = after["commits"][0]
    assert (commit["name"], commit["priority"]) == ("Renamed", 5)
    assert [i["amount"] for i in commit["access_schedule"]["schedule_items"]] == [800, 300]
    assert [i["amount"] for i in commit["invoice_schedule"]["schedule_items"]] == [800]
    assert after["credits"][0]["applicable_product_tags"] == ["api"]
    assert [
        (i["timestamp"], i["amount"])
        for i in after["scheduled_charges"][0]["schedule"]["schedule_items"]
    ] == [(END, 100)]


def test_v2_edit_update_errors(post, contract, customer):
    response = post(
        "/v2/contracts/edit",
        ref(contract, customer, update_commits=[{"commit_id": UNKNOWN, "name": "x"}]),
    )
    assert (
        error(response, 400)
        == f"update_commits[0].commit_id: This contract has no such term ({UNKNOWN})."
    )
    response = post("/v2/contracts/edit", ref(contract, customer, update_commits=[{"name": "x"}]))
    assert error(response, 400) == "update_commits[0].commit_id: This field is required."
