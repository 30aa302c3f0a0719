import pytest
from rest_framework.test import APIClient

from core.models import ApiToken


@pytest.fixture
def api_token(db) -> str:
    _, raw = ApiToken.generate(name="tests")
    return raw


@pytest.fixture
def api_client(api_token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    return client
