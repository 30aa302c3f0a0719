"""API tokens kept in the web process for `API_TOKEN_CACHE_SECONDS`: read once, forgotten on
revocation, expiry still checked on every request, read again once the seconds have passed."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core import authentication
from core.models import ApiToken
from core.services import api_token_revoke
from tests.core.factories import ApiTokenFactory
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db


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


def _token_reads(sent: list[str]) -> int:
    return sum('"core_apitoken"' in sql and sql.lstrip().startswith("SELECT") for sql in sent)


def test_a_token_is_read_once_then_served_from_the_cache():
    ApiTokenFactory(raw_token="bk_cached_0001")
    api = _api("bk_cached_0001")

    with statements_sent() as first:
        first_status = api.get("/v1/customers").status_code
    with statements_sent() as second:
        second_status = api.get("/v1/customers").status_code

    assert (first_status, second_status) == (200, 200)
    assert (_token_reads(first), _token_reads(second)) == (1, 0)


def test_with_no_cache_seconds_every_request_reads_the_token(settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    ApiTokenFactory(raw_token="bk_uncached_0001")
    api = _api("bk_uncached_0001")

    with statements_sent() as sent:
        api.get("/v1/customers")
        api.get("/v1/customers")

    assert _token_reads(sent) == 2


def test_a_token_revoked_by_the_service_stops_working_at_once():
    token = ApiTokenFactory(raw_token="bk_revoked_0001")
    api = _api("bk_revoked_0001")
    assert api.get("/v1/customers").status_code == 200

    api_token_revoke(token=token, now=timezone.now())
    answer = api.get("/v1/customers")

    assert answer.status_code == 401
    assert answer.json() == {"message": "Invalid, expired or revoked API token."}


def test_a_token_revoked_in_the_admin_stops_working_at_once(client, admin_user):
    token = ApiTokenFactory(raw_token="bk_revoked_0002")
    api = _api("bk_revoked_0002")
    assert api.get("/v1/customers").status_code == 200
    client.force_login(admin_user)

    client.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )

    assert api.get("/v1/customers").status_code == 401


def test_a_token_deleted_stops_working_at_once():
    token = ApiTokenFactory(raw_token="bk_deleted_0001")
    api = _api("bk_deleted_0001")
    assert api.get("/v1/customers").status_code == 200

    token.delete()

    assert api.get("/v1/customers").status_code == 401


def test_a_token_revoked_behind_the_cache_stops_within_the_cache_seconds(monkeypatch):
    ApiTokenFactory(raw_token="bk_revoked_0003")
    api = _api("bk_revoked_0003")
    clock = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock[0])
    assert api.get("/v1/customers").status_code == 200

    # As another process would: a plain UPDATE, no signal reaches this process's cache.
    ApiToken.objects.update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    clock[0] += 4.9
    still = api.get("/v1/customers").status_code
    clock[0] += 0.1
    stopped = api.get("/v1/customers").status_code

    assert (still, stopped) == (200, 401)


def test_a_cached_token_stops_when_it_expires():
    token = ApiTokenFactory(raw_token="bk_expiring_0001")
    api = _api("bk_expiring_0001")
    assert api.get("/v1/customers").status_code == 200
    cached = authentication._cache[token.token_hash][1]

    cached.expires_at = timezone.now() - timedelta(seconds=1)

    assert api.get("/v1/customers").status_code == 401


def test_a_wrong_token_is_never_cached():
    with statements_sent() as sent:
        _api("bk_wrong_0001").get("/v1/customers")
        _api("bk_wrong_0001").get("/v1/customers")

    assert _token_reads(sent) == 2
    assert authentication._cache == {}


def test_a_cached_token_still_records_its_use_once_a_minute():
    token = ApiTokenFactory(raw_token="bk_used_0001")
    api = _api("bk_used_0001")
    api.get("/v1/customers")
    token.refresh_from_db()
    first = token.last_used_at
    cached = authentication._cache[token.token_hash][1]
    cached.last_used_at = first - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))

    api.get("/v1/customers")

    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)
    assert authentication._cache[token.token_hash][1].last_used_at == token.last_used_at


def test_a_token_read_while_it_is_revoked_is_not_kept(monkeypatch):
    token = ApiTokenFactory(raw_token="bk_racing_0001")
    read = authentication._active_token

    def read_then_revoked_meanwhile(token_hash, *, now):
        found = read(token_hash, now=now)
        api_token_revoke(token=token, now=timezone.now())  # another thread, between read and keep
        return found

    monkeypatch.setattr(authentication, "_active_token", read_then_revoked_meanwhile)
    first = _api("bk_racing_0001").get("/v1/customers").status_code
    monkeypatch.setattr(authentication, "_active_token", read)

    assert first == 200
    assert authentication._cache == {}
    assert _api("bk_racing_0001").get("/v1/customers").status_code == 401
