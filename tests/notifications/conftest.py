"""A local receiver, an endpoint pointed at it, and a priced world built through the API whose
current billing period contains the real now (ingestion only takes the last 34 days)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from customers.models import Commit, Credit
from notifications.services import webhook_endpoint_create
from tests.catalog.factories import usd_cents

from .receiver import Receiver, start

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


@pytest.fixture
def receiver():
    found = Receiver()
    server = start(found)
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(db, receiver):
    endpoint, secret = webhook_endpoint_create(url=receiver.url, description="tests")
    endpoint.raw_secret = secret
    return endpoint


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(db, api_client):
    """Metric "Tokens" (SUM of tokens, group key region), a usage product at 2 cents a token,
    customer "Acme" (alias acme-prod) on a monthly contract started at the month's start, and
    a FIXED product for commits and credits."""
    usd_cents()
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def post(path, body):
        response = api_client.post(path, body, format="json")
        assert response.status_code == 200, response.content
        return response.json().get("data")

    metric = post(
        "/v1/billable-metrics/create",
        {
            "name": "Tokens",
            "event_type_filter": {"in_values": ["tokens"]},
            "property_filters": [{"name": "tokens", "exists": True}],
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "group_keys": [["region"]],
        },
    )["id"]
    product = post(
        "/v1/contract-pricing/products/create",
        {"name": "Tokens", "type": "USAGE", "billable_metric_id": metric},
    )["id"]
    fixed = post("/v1/contract-pricing/products/create", {"name": "Prepaid", "type": "FIXED"})["id"]
    rate_card = post("/v1/contract-pricing/rate-cards/create", {"name": "Standard"})["id"]
    post(
        "/v1/contract-pricing/rate-cards/addRate",
        {
            "rate_card_id": rate_card,
            "product_id": product,
            "entitled": True,
            "rate_type": "FLAT",
            "price": 2,
            "credit_type_id": USD,
            "starting_at": stamp(start - timedelta(days=400)),
        },
    )
    customer = post("/v1/customers", {"name": "Acme", "ingest_aliases": ["acme-prod"]})["id"]
    contract = post(
        "/v1/contracts/create",
        {
            "customer_id": customer,
            "rate_card_id": rate_card,
            "starting_at": stamp(start),
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
    )["id"]

    def ingest(tokens: int, *, region: str = "eu", customer_id: str = "acme-prod"):
        event = {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": customer_id,
            "event_type": "tokens",
            "timestamp": stamp(datetime.now(UTC) - timedelta(minutes=1)),
            "properties": {"tokens": str(tokens), "region": region},
        }
        response = api_client.post("/v1/ingest", [event], format="json")
        assert response.status_code == 200, response.content

    return {
        "metric": metric,
        "product": product,
        "fixed": fixed,
        "rate_card": rate_card,
        "customer": customer,
        "contract": contract,
        "start": start,
        "post": post,
        "ingest": ingest,
    }


@pytest.fixture
def empty(api_client):
    """POST to an endpoint that answers an empty 200."""

    def _post(path, body):
        response = api_client.post(path, body, format="json")
        assert response.status_code == 200, response.content

    return _post


def balance(world, kind: str, *, priority, amount=1000, name="Prepaid", ending=None):
    """A customer-level PREPAID commit or a credit of `amount` cents for `world`'s customer,
    applying to its contract, accessible from the period's start (400 days, or to `ending`)."""
    schedule = {
        "credit_type_id": USD,
        "schedule_items": [
            {
                "amount": amount,
                "starting_at": world["start"].isoformat(),
                "ending_before": (ending or world["start"] + timedelta(days=400)).isoformat(),
            }
        ],
    }
    body = {
        "customer_id": world["customer"],
        "product_id": world["fixed"],
        "name": name,
        "priority": priority,
        "applicable_contract_ids": [world["contract"]],
        "access_schedule": schedule,
    }
    if kind == "credit":
        world["post"]("/v1/contracts/customerCredits/create", body)
        return Credit.objects.get(customer_id=world["customer"], name=name)
    body["type"] = "PREPAID"
    body["invoice_contract_id"] = world["contract"]
    body["invoice_schedule"] = {
        "credit_type_id": USD,
        "schedule_items": [{"amount": amount, "timestamp": world["start"].isoformat()}],
    }
    world["post"]("/v1/contracts/customerCommits/create", body)
    return Commit.objects.get(customer_id=world["customer"], name=name)


def top_up(world, term, amount):
    """A manual ledger entry adding `amount` cents to the term's first segment."""
    world["post"](
        "/v1/contracts/addManualBalanceLedgerEntry",
        {
            "customer_id": world["customer"],
            "id": str(term.pk),
            "segment_id": str(term.access_schedule.first().pk),
            "amount": amount,
            "reason": "top-up",
        },
    )
