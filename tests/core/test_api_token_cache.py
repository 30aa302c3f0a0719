"""API tokens: read on every request, except by `POST /v1/ingest`, which keeps them in the web
process for `API_TOKEN_CACHE_SECONDS` and has the store ask again where it writes the batch
(`core.authentication.TokenStillValid`; on PostgreSQL inside the one ingest statement). So a
token revoked, expired, deleted or narrowed by any means, a plain UPDATE from another process
included, is refused by the next request, cached or not, and nothing of that request is stored."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core import authentication
from core.models import ApiToken
from core.services import api_token_revoke
from tests.core.factories import ApiTokenFactory
from tests.metering.stored import stored_count
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db
REFUSED = {"message": "Invalid, expired or revoked API token."}


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    authentication.api_tokens_forget()
    yield
    authentication.api_tokens_forget()


def _api(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


_sent = [0]


def _ingest(api: APIClient):
    """One event under a fresh transaction id."""
    _sent[0] += 1
    moment = (timezone.now() - timedelta(minutes=1)).isoformat()
    body = [
        {
            "transaction_id": f"cache-{_sent[0]}",
            "customer_id": "c",
            "event_type": "api_call",
            "timestamp": moment,
            "properties": {},
        }
    ]
    return api.post("/v1/ingest", json.dumps(body), content_type="application/json")


def _token_reads(sent: list[str]) -> int:
    """Reads of the token row by authentication (not the store's check, `SELECT 1 ...`)."""
    return sum('"core_apitoken"' in sql and sql.lstrip().startswith("SELECT id") for sql in sent)


def _cached(raw: str) -> APIClient:
    """A client whose token `/v1/ingest` has read and cached (the token's creation "commits"
    when the first request's transaction ends, which clears it from the cache once)."""
    api = _api(raw)
    assert _ingest(api).status_code == 200
    assert _ingest(api).status_code == 200
    assert ApiToken.hash(raw) in authentication._cache
    return api


def test_ingest_reads_a_token_once_then_serves_it_from_the_cache():
    ApiTokenFactory(raw_token="bk_cached_0001")
    api = _api("bk_cached_0001")

    with statements_sent() as first:
        first_status = _ingest(api).status_code
    _ingest(api)
    with statements_sent() as later:
        later_status = _ingest(api).status_code

    assert (first_status, later_status) == (200, 200)
    assert (_token_reads(first), _token_reads(later)) == (1, 0)


def test_other_endpoints_read_the_token_on_every_request():
    ApiTokenFactory(raw_token="bk_read_0001")
    api = _api("bk_read_0001")

    with statements_sent() as sent:
        statuses = [api.get("/v1/customers").status_code for _ in range(2)]

    assert statuses == [200, 200]
    assert _token_reads(sent) == 2
    assert authentication._cache == {}


def test_with_no_cache_seconds_ingest_reads_the_token_every_time(settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    ApiTokenFactory(raw_token="bk_uncached_0001")
    api = _api("bk_uncached_0001")
    _ingest(api)

    with statements_sent() as sent:
        _ingest(api)
        _ingest(api)

    assert _token_reads(sent) == 2


@pytest.mark.parametrize(
    ("change", "then"),
    [
        ({"revoked_at": datetime(2026, 1, 1, tzinfo=UTC)}, 401),
        ({"expires_at": datetime(2026, 1, 1, tzinfo=UTC)}, 401),
        # Read again: a valid token whose scope may not ingest.
        ({"scope": ApiToken.Scope.READ}, 403),
    ],
    ids=["revoked", "expired", "narrowed to read"],
)
def test_a_cached_token_changed_by_a_plain_update_stores_nothing_from_the_next_batch(change, then):
    ApiTokenFactory(raw_token="bk_updated_0001", scope=ApiToken.Scope.INGEST)
    api = _cached("bk_updated_0001")
    stored = stored_count()

    # As another process would: a plain UPDATE, no signal reaches this process's cache.
    ApiToken.objects.update(**change)
    answer = _ingest(api)

    assert answer.status_code == 401
    assert answer.json() == REFUSED
    assert stored_count() == stored
    # Forgotten: the next request is refused before it reaches the store.
    assert authentication._cache == {}
    assert _ingest(api).status_code == then


def test_a_cached_token_deleted_by_a_plain_delete_stores_nothing():
    ApiTokenFactory(raw_token="bk_deleted_0002")
    api = _cached("bk_deleted_0002")
    stored = stored_count()

    ApiToken.objects.all()._raw_delete(ApiToken.objects.db)

    assert _ingest(api).status_code == 401
    assert stored_count() == stored


def test_a_token_revoked_by_a_plain_update_is_refused_by_a_read_at_once():
    ApiTokenFactory(raw_token="bk_revoked_0003")
    api = _api("bk_revoked_0003")
    assert api.get("/v1/customers").status_code == 200

    ApiToken.objects.update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    answer = api.get("/v1/customers")

    assert answer.status_code == 401
    assert answer.json() == REFUSED


def test_a_token_revoked_by_the_service_stops_working_at_once():
    token = ApiTokenFactory(raw_token="bk_revoked_0001")
    api = _cached("bk_revoked_0001")

    api_token_revoke(token=token, now=timezone.now())

    assert _ingest(api).status_code == 401
    assert api.get("/v1/customers").status_code == 401


def test_a_token_revoked_in_the_admin_stops_working_at_once(client, admin_user):
    token = ApiTokenFactory(raw_token="bk_revoked_0002")
    api = _cached("bk_revoked_0002")
    client.force_login(admin_user)

    client.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )

    assert _ingest(api).status_code == 401


def test_a_cached_token_stops_when_it_expires():
    token = ApiTokenFactory(raw_token="bk_expiring_0001")
    api = _cached("bk_expiring_0001")
    cached = authentication._cache[token.token_hash][1]

    cached.expires_at = timezone.now() - timedelta(seconds=1)

    assert _ingest(api).status_code == 401


def test_a_wrong_token_is_never_cached():
    with statements_sent() as sent:
        _ingest(_api("bk_wrong_0001"))
        _ingest(_api("bk_wrong_0001"))

    assert _token_reads(sent) == 2
    assert authentication._cache == {}


def test_a_cached_token_still_records_its_use_once_a_minute():
    token = ApiTokenFactory(raw_token="bk_used_0001")
    api = _cached("bk_used_0001")
    token.refresh_from_db()
    first = token.last_used_at
    cached = authentication._cache[token.token_hash][1]
    cached.last_used_at = first - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))

    _ingest(api)

    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)
    assert authentication._cache[token.token_hash][1].last_used_at == token.last_used_at


def test_a_token_read_while_it_is_revoked_is_not_kept(monkeypatch):
    token = ApiTokenFactory(raw_token="bk_racing_0001")
    _cached("bk_racing_0001")
    authentication.api_tokens_forget()
    read = authentication._active_token

    def read_then_revoked_meanwhile(token_hash, *, now):
        found = read(token_hash, now=now)
        api_token_revoke(token=token, now=timezone.now())  # another thread, between read and keep
        return found

    monkeypatch.setattr(authentication, "_active_token", read_then_revoked_meanwhile)
    first = _ingest(_api("bk_racing_0001")).status_code
    monkeypatch.setattr(authentication, "_active_token", read)

    # Refused in the store (the revocation came before the write), and not kept.
    assert first == 401
    assert authentication._cache == {}
    assert _ingest(_api("bk_racing_0001")).status_code == 401


def test_the_check_in_the_store_refuses_a_revoked_token_on_the_clickhouse_store_too(chdb_store):
    ApiTokenFactory(raw_token="bk_chdb_0001")
    api = _cached("bk_chdb_0001")
    stored = stored_count()

    ApiToken.objects.update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))

    assert _ingest(api).status_code == 401
    assert stored_count() == stored
