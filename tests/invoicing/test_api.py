"""The invoice API: Metronome's envelope and shapes (strict SDK parse), filters, errors."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from metronome import Metronome

from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.factories import (
    ContractFactory,
    CustomerFactory,
    RateFactory,
    ingest,
    usd_cents,
)
from tests.invoicing.golden_support import case_paths, load_case
from tests.invoicing.golden_world import build_world


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def seed_world():
    now = t(2026, 3, 20)
    case = load_case(case_paths()[0])
    world = build_world(case)
    contract_drafts_ensure(contract=world.contract, now=now)
    ingest([world.event(data) for data in case["events"]])
    return case, world


def url(customer_id, invoice_id=None):
    base = f"/v1/customers/{customer_id}/invoices"
    return base if invoice_id is None else f"{base}/{invoice_id}"


@pytest.mark.django_db
def test_retrieve_draft_is_rated_on_read_in_metronome_shape(api_client):
    case, world = seed_world()
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    response = api_client.get(url(world.customer.id, draft.id))
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == str(draft.id)
    assert data["status"] == "DRAFT"
    assert data["type"] == "USAGE"
    assert data["credit_type"] == {"id": str(usd_cents().id), "name": "USD (cents)"}
    assert data["start_timestamp"] == "2026-03-01T00:00:00Z"
    assert data["end_timestamp"] == "2026-04-01T00:00:00Z"
    assert data["total"] == int(case["expected"]["total"])
    assert "issued_at" not in data
    first = data["line_items"][0]
    assert first["type"] == "usage"
    assert first["product_type"] == "UsageProductListItem"
    assert isinstance(first["total"], int)
    assert first["credit_type"]["name"] == "USD (cents)"
    assert first["pricing_group_values"] == {"model_name": "model-A"}


@pytest.mark.django_db
def test_draft_shows_a_new_event_on_the_next_read(api_client):
    _case, world = seed_world()
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    before = api_client.get(url(world.customer.id, draft.id)).json()["data"]["total"]
    ingest(
        [
            {
                "transaction_id": "late-one",
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": "2026-03-19T00:00:00Z",
                "properties": {"num_tokens": "1000000", "model_name": "model-A", "user_id": "bob"},
            }
        ]
    )
    after = api_client.get(url(world.customer.id, draft.id)).json()["data"]["total"]
    assert after - before == 150


@pytest.mark.django_db
def test_finalized_invoice_shows_frozen_lines_number_and_issue_date(api_client):
    _case, world = seed_world()
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    invoice_finalize(invoice=draft, now=t(2026, 4, 2, 12))
    data = api_client.get(url(world.customer.id, draft.id)).json()["data"]
    assert data["status"] == "FINALIZED"
    assert data["issued_at"] == "2026-04-02T12:00:00Z"
    assert len(data["line_items"]) == draft.line_items.count()


@pytest.mark.django_db
def test_tier_starting_at_and_size_are_strings(api_client):
    rate = RateFactory(rate_type="TIERED", price=None)
    rate.tiers.create(level=1, size=Decimal("1.5"), price=Decimal(100))
    rate.tiers.create(level=2, price=Decimal("80.25"))
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    ingest(
        [
            {
                "transaction_id": "x",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-03T00:00:00Z",
                "properties": {"num_tokens": "4", "model_name": "m"},
            }
        ]
    )
    invoice = Invoice.objects.get(contract=contract)
    lines = api_client.get(url(contract.customer_id, invoice.id)).json()["data"]["line_items"]
    assert [line["tier"] for line in lines] == [
        {"level": 1, "starting_at": "0", "size": "1.5"},
        {"level": 2, "starting_at": "1.5", "size": None},
    ]
    assert [line["unit_price"] for line in lines] == [100, 80.25]
    # 1.5 x 100 = 150; 2.5 x 80.25 = 200.625, rounded half up to a whole cent: 201.
    assert [line["total"] for line in lines] == [150, 201]


@pytest.mark.django_db
def test_list_filters_sort_and_pagination(api_client):
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    other = ContractFactory(customer=contract.customer, starting_at=t(2026, 2, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    contract_drafts_ensure(contract=other, now=t(2026, 3, 2))
    invoice_finalize(
        invoice=Invoice.objects.get(contract=contract, start_timestamp=t(2026, 1, 1)),
        now=t(2026, 2, 3),
    )
    base = url(contract.customer_id)

    def starts(response):
        return [(row["contract_id"], row["start_timestamp"][:7]) for row in response.json()["data"]]

    everything = api_client.get(base)
    assert everything.status_code == 200
    assert [s for _, s in starts(everything)] == [
        "2026-01",
        "2026-02",
        "2026-02",
        "2026-03",
        "2026-03",
    ]
    desc = api_client.get(base, {"sort": "date_desc"})
    assert [s for _, s in starts(desc)] == ["2026-03", "2026-03", "2026-02", "2026-02", "2026-01"]
    finalized = api_client.get(base, {"status": "finalized"})
    assert [s for _, s in starts(finalized)] == ["2026-01"]
    mine = api_client.get(base, {"contract_id": str(other.id)})
    assert {c for c, _ in starts(mine)} == {str(other.id)}
    window = api_client.get(
        base, {"starting_on": "2026-02-01T00:00:00Z", "ending_before": "2026-03-01T00:00:00Z"}
    )
    assert [s for _, s in starts(window)] == ["2026-02", "2026-02"]
    seen = []
    page = api_client.get(base, {"limit": 2})
    while True:
        body = page.json()
        seen.extend(row["id"] for row in body["data"])
        if not body["next_page"]:
            break
        page = api_client.get(base, {"limit": 2, "next_page": body["next_page"]})
    assert seen == [row["id"] for row in everything.json()["data"]]
    # Newest first, one at a time: the cursor walks the same order, ties included.
    seen = []
    page = api_client.get(base, {"limit": 1, "sort": "date_desc"})
    while True:
        body = page.json()
        seen.extend(row["id"] for row in body["data"])
        if not body["next_page"]:
            break
        page = api_client.get(
            base, {"limit": 1, "sort": "date_desc", "next_page": body["next_page"]}
        )
    assert seen == [row["id"] for row in desc.json()["data"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "PAID"}, "status"),
        ({"sort": "newest"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"next_page": "garbage!"}, "next_page"),
        ({"starting_on": "yesterday"}, "starting_on"),
        ({"contract_id": "nope"}, "contract_id"),
        ({"type": "MONTHLY"}, "type"),
        ({"credit_type_id": "usd"}, "credit_type_id"),
        ({"skip_zero_qty_line_items": "maybe"}, "skip_zero_qty_line_items"),
    ],
)
def test_list_bad_parameters_answer_400_with_a_message(api_client, params, message):
    customer = CustomerFactory()
    response = api_client.get(url(customer.id), params)
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.django_db
def test_unknown_and_foreign_ids_answer_404_malformed_400(api_client):
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice = Invoice.objects.get(contract=contract)
    stranger = CustomerFactory()
    cases = [
        (url(uuid.uuid4()), 404, "Customer"),
        (url(uuid.uuid4(), invoice.id), 404, "Customer"),
        (url(stranger.id, invoice.id), 404, "Invoice"),
        (url(contract.customer_id, uuid.uuid4()), 404, "Invoice"),
        (url("not-a-uuid"), 400, "customer_id"),
        # The invoice id segment only matches a UUID, so that sibling routes (`invoices/breakdowns`)
        # are not taken for an invoice: anything else is a path with no route.
        (url(contract.customer_id, "not-a-uuid"), 404, "Not found"),
    ]
    for path, status, word in cases:
        response = api_client.get(path)
        assert (path, response.status_code) == (path, status)
        assert word in response.json()["message"]


@pytest.mark.django_db
def test_invoice_api_needs_a_token(client):
    customer = CustomerFactory()
    assert client.get(url(customer.id)).status_code in (401, 403)


@pytest.mark.django_db
def test_void_and_regenerate_over_the_api(api_client):
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice = Invoice.objects.get(contract=contract)
    refused = api_client.post("/v1/invoices/void", {"id": str(invoice.id)}, format="json")
    assert refused.status_code == 400
    assert "DRAFT" in refused.json()["message"]
    invoice_finalize(invoice=invoice, now=t(2026, 4, 3))
    early = api_client.post("/v1/invoices/regenerate", {"id": str(invoice.id)}, format="json")
    assert early.status_code == 400
    assert "only a VOID" in early.json()["message"]
    voided = api_client.post("/v1/invoices/void", {"id": str(invoice.id)}, format="json")
    assert voided.json() == {"data": {"id": str(invoice.id)}}
    assert Invoice.objects.get(pk=invoice.pk).status == "VOID"
    again = api_client.post("/v1/invoices/void", {"id": str(invoice.id)}, format="json")
    assert again.status_code == 400
    regenerated = api_client.post("/v1/invoices/regenerate", {"id": str(invoice.id)}, format="json")
    assert regenerated.status_code == 200
    new = Invoice.objects.get(pk=regenerated.json()["data"]["id"])
    assert (new.status, new.regenerated_from_id) == ("DRAFT", invoice.id)
    twice = api_client.post("/v1/invoices/regenerate", {"id": str(invoice.id)}, format="json")
    assert twice.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "word"),
    [({}, 400, "id"), ({"id": "nope"}, 400, "id"), ({"id": str(uuid.uuid4())}, 404, "Invoice")],
)
def test_void_and_regenerate_bad_ids(api_client, body, status, word):
    for path in ("/v1/invoices/void", "/v1/invoices/regenerate"):
        response = api_client.post(path, body, format="json")
        assert response.status_code == status
        assert word in response.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_sdk_parses_list_and_retrieve_strictly(live_server, api_token, request):
    _case, world = seed_world()
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    finalized = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 1, 1))
    invoice_finalize(invoice=finalized, now=t(2026, 2, 3))
    client = Metronome(
        base_url=live_server.url,
        bearer_token=api_token,
        max_retries=0,
        _strict_response_validation=True,
    )
    request.addfinalizer(client.close)  # keep-alive connections closed before the database goes
    listed = list(client.v1.customers.invoices.list(customer_id=str(world.customer.id), limit=1))
    assert [invoice.start_timestamp.month for invoice in listed] == [1, 2, 3, 4][: len(listed)]
    drafts = list(
        client.v1.customers.invoices.list(customer_id=str(world.customer.id), status="DRAFT")
    )
    assert all(invoice.status == "DRAFT" for invoice in drafts)
    one = client.v1.customers.invoices.retrieve(
        customer_id=str(world.customer.id), invoice_id=str(draft.id)
    )
    assert one.data.total == 615
    assert one.data.line_items[0].credit_type.name == "USD (cents)"
    frozen = client.v1.customers.invoices.retrieve(
        customer_id=str(world.customer.id), invoice_id=str(finalized.id)
    )
    assert frozen.data.status == "FINALIZED"
    assert frozen.data.issued_at == t(2026, 2, 3)
    voided = client.v1.invoices.void(id=str(finalized.id))
    assert voided.data.id == str(finalized.id)
    regenerated = client.v1.invoices.regenerate(id=str(finalized.id))
    assert Invoice.objects.get(pk=regenerated.data.id).regenerated_from_id == finalized.id


@pytest.mark.django_db
def test_skip_zero_qty_line_items_drops_zero_quantity_lines(api_client):
    rate = RateFactory(price=Decimal(7))
    product = rate.product
    product.presentation_group_key = ["model_name"]
    product.quantity_conversion_factor = Decimal(1000000)
    product.quantity_conversion_operation = "DIVIDE"
    product.quantity_rounding_decimal_places = 0
    product.quantity_rounding_method = "ROUND_DOWN"
    product.save()
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    ingest(
        [
            {
                "transaction_id": f"tx-{model}",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-03T00:00:00Z",
                "properties": {"num_tokens": tokens, "model_name": model},
            }
            for model, tokens in (("small", "5"), ("large", "2000000"))
        ]
    )
    invoice = Invoice.objects.get(contract=contract)
    path = url(contract.customer_id, invoice.id)
    every = api_client.get(path).json()["data"]["line_items"]
    assert sorted((li["group_value"], li["quantity"]) for li in every) == [
        ("large", 2),
        ("small", 0),
    ]
    skipped = api_client.get(path, {"skip_zero_qty_line_items": "true"}).json()["data"]
    assert [li["group_value"] for li in skipped["line_items"]] == ["large"]
    listed = api_client.get(url(contract.customer_id), {"skip_zero_qty_line_items": "true"})
    assert [li["group_value"] for li in listed.json()["data"][0]["line_items"]] == ["large"]
