"""A price change made through the catalog's service reaches drafts at once (they are rated on
read) and never a finalized invoice (frozen lines and snapshot)."""

from decimal import Decimal

import pytest

from catalog.models import Rate
from catalog.services import rate_price_change
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.test_services import event, seed_world, t

pytestmark = pytest.mark.django_db


def model_a_rate(world) -> Rate:
    return Rate.objects.get(
        rate_card=world.contract.rate_card, pricing_group_values={"model_name": "model-A"}
    )


def test_a_price_change_reaches_the_draft_at_once_and_splits_it_at_its_start():
    _case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 2))
    event("acme-prod", t(2026, 3, 10), "2000000")
    event("acme-prod", t(2026, 3, 20), "1000000")
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    assert invoice_view(invoice=draft, now=t(2026, 3, 21)).total == Decimal("450")

    rate_price_change(rate=model_a_rate(world), starting_at=t(2026, 3, 16), price=Decimal("120"))

    view = invoice_view(invoice=draft, now=t(2026, 3, 21))
    assert [(li.starting_at, li.quantity, li.unit_price, li.total) for li in view.lines] == [
        (t(2026, 3, 1), Decimal("2"), Decimal("150"), Decimal("300")),
        (t(2026, 3, 16), Decimal("1"), Decimal("120"), Decimal("120")),
    ]
    assert view.total == Decimal("420")


def test_a_backdated_price_change_leaves_the_finalized_invoice_as_it_was():
    _case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 2, 2))
    event("acme-prod", t(2026, 2, 20), "1000000")
    february = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 2, 1))
    invoice_finalize(invoice=february, now=t(2026, 3, 3))
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 3))
    event("acme-prod", t(2026, 3, 4), "1000000")

    rate_price_change(rate=model_a_rate(world), starting_at=t(2026, 2, 15), price=Decimal("100"))

    frozen = invoice_view(invoice=Invoice.objects.get(pk=february.pk), now=t(2026, 3, 5))
    assert frozen.total == Decimal("150")
    assert [li.unit_price for li in frozen.lines] == [Decimal("150")]
    march = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    assert invoice_view(invoice=march, now=t(2026, 3, 5)).total == Decimal("100")
