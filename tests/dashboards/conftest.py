from datetime import UTC, datetime

import pytest

from invoicing.services import invoice_finalize
from tests.dashboards.world import company_profile, video_world


@pytest.fixture
def world(db):
    company_profile()
    return video_world()


@pytest.fixture
def finalized(world):
    """December's invoice, finalized on January 3, 2027 (number 1)."""
    return invoice_finalize(
        invoice=world.december(), now=datetime(2027, 1, 3, 9, tzinfo=UTC)
    ).invoice
