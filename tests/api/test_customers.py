"""/v1/customers* (reference 3.3)."""

import pytest

from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import ContractFactory


@pytest.fixture
def acme(post):
    return data(
        post(
            "/v1/customers",
            {"name": "Acme", "ingest_aliases": ["acme@example.com"], "custom_fields": {"x": "1"}},
        )
    )


def test_create_answers_the_customer(acme):
    assert acme == {
        "id": acme["id"],
        "external_id": "acme@example.com",
        "ingest_aliases": ["acme@example.com"],
        "name": "Acme",
        "custom_fields": {"x": "1"},
    }


def test_create_without_aliases_uses_the_id_as_external_id(post):
    created = data(post("/v1/customers", {"name": "Solo"}))
    assert created["external_id"] == created["id"]
    assert created["ingest_aliases"] == []


def test_external_id_is_also_an_ingest_alias(post):
    created = data(post("/v1/customers", {"name": "Old", "external_id": "legacy-1"}))
    assert created["external_id"] == "legacy-1"
    assert created["ingest_aliases"] == ["legacy-1"]


def test_name_is_truncated_at_160(post):
    created = data(post("/v1/customers", {"name": "n" * 200}))
    assert created["name"] == "n" * 160


def test_retrieve_answers_the_customer_detail(acme, get):
    detail = data(get(f"/v1/customers/{acme['id']}"))
    assert detail["customer_config"] == {"salesforce_account_id": None}
    assert detail["archived_at"] is None
    assert detail["created_at"].endswith("Z")
    assert detail["updated_at"].endswith("Z")
    assert {k: detail[k] for k in acme} == acme


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name: This field is required."),
        ({"name": ""}, "name: This field may not be blank."),
        (
            {"name": "A", "ingest_aliases": "a"},
            'ingest_aliases: Expected a list of items but got type "str".',
        ),
        ({"name": "A", "custom_fields": {"k": 1}}, "custom_fields.k: Must be a string."),
    ],
)
def test_create_errors(post, body, message):
    assert error(post("/v1/customers", body), 400) == message


def test_an_alias_of_another_customer_is_a_409_not_retried(acme, post):
    response = post("/v1/customers", {"name": "Other", "ingest_aliases": ["acme@example.com"]})
    assert error(response, 409) == (
        "The ingest alias 'acme@example.com' already belongs to customer 'Acme'."
    )
    assert response["x-should-retry"] == "false"


def test_list_filters(acme, post, get):
    other = data(post("/v1/customers", {"name": "Beta", "ingest_aliases": ["beta"]}))
    assert [c["id"] for c in data(get("/v1/customers", {"ingest_alias": "beta"}))] == [other["id"]]
    both = data(get("/v1/customers", {"customer_ids": f"{acme['id']},{other['id']}"}))
    assert {c["id"] for c in both} == {acme["id"], other["id"]}
    one = data(get("/v1/customers", {"customer_ids": acme["id"]}))
    assert [c["id"] for c in one] == [acme["id"]]
    data(post("/v1/customers/archive", {"id": other["id"]}))
    assert [c["id"] for c in data(get("/v1/customers"))] == [acme["id"]]
    archived = data(get("/v1/customers", {"only_archived": "true"}))
    assert [c["id"] for c in archived] == [other["id"]]


def test_list_rejects_malformed_customer_ids(get):
    assert error(get("/v1/customers", {"customer_ids": "a,b"}), 400) == (
        "customer_ids: Must be a comma-separated list of UUIDs."
    )


def test_list_pages_one_by_one(post, get):
    ids = [data(post("/v1/customers", {"name": f"C{i}"}))["id"] for i in range(3)]
    page = get("/v1/customers", {"limit": 1}).json()
    seen = [c["id"] for c in page["data"]]
    while page["next_page"]:
        page = get("/v1/customers", {"limit": 1, "next_page": page["next_page"]}).json()
        seen += [c["id"] for c in page["data"]]
    assert seen == ids


def test_set_ingest_aliases_replaces_the_set_and_answers_empty(acme, api_client, get):
    response = api_client.post(
        f"/v1/customers/{acme['id']}/setIngestAliases",
        {"ingest_aliases": ["a", "b"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.content == b""
    assert data(get(f"/v1/customers/{acme['id']}"))["ingest_aliases"] == ["a", "b"]


def test_set_ingest_aliases_keeping_an_alias_adds_the_others(acme, post, get):
    url = f"/v1/customers/{acme['id']}/setIngestAliases"
    assert post(url, {"ingest_aliases": ["acme@example.com", "acme-2"]}).status_code == 200
    assert data(get(f"/v1/customers/{acme['id']}"))["ingest_aliases"] == [
        "acme-2",
        "acme@example.com",
    ]


def test_set_ingest_aliases_keeps_the_customers_own_aliases(acme, get, post):
    url = f"/v1/customers/{acme['id']}/setIngestAliases"
    assert post(url, {"ingest_aliases": ["a", "b"]}).status_code == 200
    assert post(url, {"ingest_aliases": ["b", "c"]}).status_code == 200
    assert data(get(f"/v1/customers/{acme['id']}"))["ingest_aliases"] == ["b", "c"]
    assert post(url, {"ingest_aliases": ["b", "c"]}).status_code == 200
    assert data(get(f"/v1/customers/{acme['id']}"))["ingest_aliases"] == ["b", "c"]


def test_set_ingest_aliases_errors(acme, post):
    other = data(post("/v1/customers", {"name": "Beta", "ingest_aliases": ["beta"]}))
    url = f"/v1/customers/{acme['id']}/setIngestAliases"
    response = post(url, {"ingest_aliases": ["beta"]})
    assert error(response, 409) == "The ingest alias 'beta' already belongs to customer 'Beta'."
    assert error(post(url, {}), 400) == "ingest_aliases: This field is required."
    assert error(post(f"/v1/customers/{UNKNOWN}/setIngestAliases", {"ingest_aliases": []}), 404)
    assert other


def test_archived_customer_keeps_its_aliases(acme, post):
    data(post("/v1/customers/archive", {"id": acme["id"]}))
    response = post("/v1/customers", {"name": "New", "ingest_aliases": ["acme@example.com"]})
    assert error(response, 409) == (
        "The ingest alias 'acme@example.com' already belongs to customer 'Acme'."
    )


def test_set_name_answers_the_customer(acme, post):
    renamed = data(post(f"/v1/customers/{acme['id']}/setName", {"name": "Acme Inc"}))
    assert renamed["name"] == "Acme Inc"
    assert renamed["id"] == acme["id"]


def test_set_name_errors(acme, post):
    assert error(post(f"/v1/customers/{acme['id']}/setName", {}), 400) == (
        "name: This field is required."
    )
    assert error(post(f"/v1/customers/{UNKNOWN}/setName", {"name": "x"}), 404) == (
        f"Customer {UNKNOWN} not found."
    )
    data(post("/v1/customers/archive", {"id": acme["id"]}))
    assert error(post(f"/v1/customers/{acme['id']}/setName", {"name": "x"}), 400) == (
        "This customer is archived; it cannot be renamed."
    )


def test_archive_archives_the_contracts(acme, post, get):
    from customers.models import Contract

    contract = ContractFactory(customer_id=acme["id"], rate_card=RateCardFactory())
    assert data(post("/v1/customers/archive", {"id": acme["id"]})) == {"id": acme["id"]}
    contract.refresh_from_db()
    assert contract.archived_at is not None
    assert data(get(f"/v1/customers/{acme['id']}"))["archived_at"].endswith("Z")
    assert Contract.objects.filter(archived_at__isnull=True).count() == 0


def test_archive_errors(acme, post):
    data(post("/v1/customers/archive", {"id": acme["id"]}))
    assert error(post("/v1/customers/archive", {"id": acme["id"]}), 400) == (
        "This customer is already archived."
    )
    assert error(post("/v1/customers/archive", {"id": UNKNOWN}), 404)
    assert (
        error(post("/v1/customers/archive", {"id": "zz"}), 400) == "id: 'zz' is not a valid UUID."
    )


def test_retrieve_unknown_or_malformed(get):
    assert error(get(f"/v1/customers/{UNKNOWN}"), 404) == f"Customer {UNKNOWN} not found."
    assert error(get("/v1/customers/nope"), 400) == "customer_id: 'nope' is not a valid UUID."
