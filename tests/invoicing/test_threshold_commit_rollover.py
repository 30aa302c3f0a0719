"""The commit an auto-recharge buys carries its configuration's priority, rate type, duration
and rollover fraction: at a renewal its rollover fraction of what is left rolls over, like any
commit's."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers import services
from customers.models import Commit
from invoicing.threshold_billing import contract_thresholds_check
from tests.catalog.factories import ProductFactory
from tests.customers.factories import ContractFactory

pytestmark = pytest.mark.django_db

JAN_2026 = datetime(2026, 1, 1, tzinfo=UTC)
JUL_2026 = datetime(2026, 7, 1, tzinfo=UTC)
JAN_2027 = datetime(2027, 1, 1, tzinfo=UTC)
JAN_2028 = datetime(2028, 1, 1, tzinfo=UTC)


def test_a_bought_commit_rolls_its_fraction_over_at_renewal():
    old = ContractFactory(starting_at=JAN_2026, ending_before=None)
    old.prepaid_balance_threshold_configuration = {
        "commit": {
            "product_id": str(ProductFactory(fixed=True, name="Top-up").pk),
            "name": "Top-up",
            "priority": "4",
            "rate_type": "COMMIT_RATE",
            "rollover_fraction": "0.5",
            "duration": {"unit": "MONTHS", "value": 18},
        },
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        "threshold_amount": "100",
        "recharge_to_amount": "1000",
    }
    old.save()

    (bought,) = contract_thresholds_check(contract=old, now=JUL_2026)
    assert (bought.priority, bought.rate_type, bought.rollover_fraction) == (
        Decimal(4),
        "COMMIT_RATE",
        Decimal("0.5"),
    )
    (segment,) = bought.access_schedule.all()
    assert (segment.amount, segment.starting_at, segment.ending_before) == (
        Decimal(1000),
        JUL_2026,
        datetime(2028, 1, 1, tzinfo=UTC),
    )

    new = services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=JAN_2027,
        ending_before=JAN_2028,
        now=datetime(2027, 1, 1, 1, tzinfo=UTC),
        transition=services.TransitionSpec(from_contract_id=old.pk, type="RENEWAL"),
    )

    rolled = Commit.objects.get(contract=new, rolled_over_from=bought)
    assert (rolled.priority, rolled.rate_type) == (Decimal(4), "COMMIT_RATE")
    (segment,) = rolled.access_schedule.all()
    # Nothing drawn: half of 1000.
    assert segment.amount == Decimal(500)
