import pytest
from metronome import Metronome

from billing_site.models import ApiToken


@pytest.fixture
def client(live_server, transactional_db) -> Metronome:
    """The official SDK pointed at this server: strict validation, no retries."""
    _, raw = ApiToken.generate(name="sdk")
    return Metronome(
        base_url=live_server.url,
        bearer_token=raw,
        max_retries=0,
        _strict_response_validation=True,
    )
