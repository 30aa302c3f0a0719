"""`manage.py create_api_token NAME`: prints a new token once; only its SHA-256 hash is stored."""

import hashlib
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core.models import ApiToken
from tests.core.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db


class Whoami(APIView):
    """A protected endpoint with the project's default authentication and permissions."""

    def get(self, request):
        return Response({"caller": str(request.user)})


def create_token(name: str) -> str:
    out = StringIO()
    call_command("create_api_token", name, stdout=out)
    return out.getvalue().strip()


def call_api(raw: str):
    request = APIRequestFactory().get("/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    return Whoami.as_view()(request)


def test_the_command_prints_one_token_and_stores_only_its_hash():
    raw = create_token("ingest-prod")

    token = ApiToken.objects.get()
    assert len(raw.splitlines()) == 1
    assert raw.startswith("bk_") and len(raw) > 30
    assert token.name == "ingest-prod"
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.token_hash, token.prefix, token.name}
    assert token.prefix == raw[:10]


def test_each_run_prints_a_different_token():
    assert create_token("a") != create_token("b")
    assert ApiToken.objects.count() == 2


def test_the_printed_token_authenticates():
    raw = create_token("ingest-prod")

    response = call_api(raw)

    assert response.status_code == 200
    assert response.data == {"caller": "api:ingest-prod"}


def test_a_wrong_or_revoked_token_does_not_authenticate():
    raw = create_token("ingest-prod")
    wrong = call_api(raw + "x")
    ApiToken.objects.update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    revoked = call_api(raw)

    assert (wrong.status_code, revoked.status_code) == (401, 401)
    assert revoked.data == {"message": "Invalid, expired or revoked API token."}


def test_the_token_factory_stores_the_hash_of_its_raw_token():
    token = ApiTokenFactory(raw_token="bk_known_value_123")

    assert token.token_hash == ApiToken.hash("bk_known_value_123")
    assert call_api("bk_known_value_123").status_code == 200
