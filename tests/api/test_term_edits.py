"""contracts/edit's update_recurring_commits, update_recurring_credits and update_discounts:
the terms change, the commits and credits not started yet and the drafts follow at once, a
finalized invoice never changes, the edit history says what changed, and the outbox hears it.
A recurring commit changed on its admin page follows the same way."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Rate
from core.models import DomainEvent
from customers.models import Commit, CommitInvoiceItem, Contract, Credit, RecurringBalance
from customers.periods import add_months
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import invoice_finalize
from tests.api.conftest import UNKNOWN, USD, data, error
from tests.catalog.admin_posts import page_errors
from tests.catalog.factories import ProductFactory, RateCardFactory, RateFactory
from tests.customers.factories import CustomerFactory


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def world(db):
    """A card with seats at 1000 a month (ADVANCE); this month's start and the two after."""
    seats = ProductFactory(subscription=True, name="Seats")
    card = RateCardFactory(name="Card")
    this_month = _month_start(datetime.now(UTC))
    RateFactory(
        rate_card=card,
        product=seats,
        rate_type=Rate.RateType.SUBSCRIPTION,
        price=Decimal(1000),
        billing_frequency="MONTHLY",
        starting_at=add_months(this_month, -2),
    )
    return {
        "customer": CustomerFactory(name="Acme"),
        "card": card,
        "seats": seats,
        "fixed": ProductFactory(fixed=True, name="Monthly commit"),
        "discount": ProductFactory(fixed=True, name="Discounts"),
        "last": add_months(this_month, -1),
        "this": this_month,
        "next": add_months(this_month, 1),
        "after": add_months(this_month, 2),
    }


def _contract(post, world, starting_at: datetime, **terms) -> str:
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": _iso(starting_at),
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {
                    "product_id": str(world["seats"].pk),
                    "billing_frequency": "MONTHLY",
                },
                "initial_quantity": 1,
            }
        ],
        **terms,
    }
    return data(post("/v1/contracts/create", body))["id"]


def _edit(post, world, contract: str, **changes):
    body = {"customer_id": str(world["customer"].pk), "contract_id": contract, **changes}
    return post("/v2/contracts/edit", body)


def _usage_total(contract: str, start: datetime) -> Decimal:
    invoice = Invoice.objects.get(contract_id=contract, type="USAGE", start_timestamp=start)
    return invoice_view(invoice=invoice).total


def _purchases(contract: str) -> dict:
    """The drafts buying the contract's commits: {date: total}."""
    return {
        invoice.start_timestamp: invoice_view(invoice=invoice).total
        for invoice in Invoice.objects.filter(
            contract_id=contract, type="SCHEDULED", status="DRAFT"
        )
    }


def _recurring_commit(world) -> dict:
    return {
        "product_id": str(world["fixed"].pk),
        "name": "Monthly commit",
        "priority": 1,
        "starting_at": _iso(world["this"]),
        "access_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
        "invoice_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
        "commit_duration": {"value": 1, "unit": "PERIODS"},
        "proration": "NONE",
    }


def _made(term_id: str, model=Commit) -> list[tuple]:
    """(access start, amount, access end, archived) of what a recurring term made, by date."""
    return sorted(
        (s.starting_at, s.amount, s.ending_before, b.archived_at is not None)
        for b in model.objects.filter(recurring_id=term_id)
        for s in b.access_schedule.all()
    )


def test_a_recurring_commit_update_changes_only_what_has_not_started(world, post):
    contract = _contract(post, world, world["this"], recurring_commits=[_recurring_commit(world)])
    term = RecurringBalance.objects.get(contract_id=contract)
    assert _made(term.pk) == [
        (world["this"], Decimal(1000), world["next"], False),
        (world["next"], Decimal(1000), world["after"], False),
    ]
    assert _purchases(contract) == {world["this"]: Decimal(1000), world["next"]: Decimal(1000)}
    # The started commit pays this month's seat fee.
    assert _usage_total(contract, world["this"]) == Decimal(0)
    events = DomainEvent.objects.count()

    response = _edit(
        post,
        world,
        contract,
        update_recurring_commits=[
            {
                "recurring_commit_id": str(term.pk),
                "access_amount": {"unit_price": 1500},
                "invoice_amount": {"unit_price": 1200},
                "rate_type": "LIST_RATE",
            }
        ],
    )
    edit = data(response)["edit"]
    assert edit["update_recurring_commits"] == [
        {
            "id": str(term.pk),
            "access_amount": {"unit_price": 1500},
            "invoice_amount": {"unit_price": 1200},
            "rate_type": "LIST_RATE",
        }
    ]
    term.refresh_from_db()
    assert (term.access_unit_price, term.invoice_unit_price) == (Decimal(1500), Decimal(1200))
    # This month's commit has started: unchanged. Next month's follows the new amounts.
    assert _made(term.pk) == [
        (world["this"], Decimal(1000), world["next"], False),
        (world["next"], Decimal(1500), world["after"], False),
    ]
    assert _purchases(contract) == {world["this"]: Decimal(1000), world["next"]: Decimal(1200)}
    assert _usage_total(contract, world["this"]) == Decimal(0)
    types = DomainEvent.objects.order_by("pk")[events:].values_list("type", flat=True)
    assert sorted(set(types)) == ["commit.edit", "contract.edit"]
    history = data(
        post(
            "/v2/contracts/getEditHistory",
            {"customer_id": str(world["customer"].pk), "contract_id": contract},
        )
    )
    assert history[-1]["update_recurring_commits"] == edit["update_recurring_commits"]


def test_a_recurring_commit_ended_earlier_archives_what_lies_after_and_later_makes_more(
    world, post
):
    contract = _contract(post, world, world["this"], recurring_commits=[_recurring_commit(world)])
    term = RecurringBalance.objects.get(contract_id=contract)
    edit = data(
        _edit(
            post,
            world,
            contract,
            update_recurring_commits=[
                {"recurring_commit_id": str(term.pk), "ending_before": _iso(world["next"])}
            ],
        )
    )["edit"]
    assert edit["update_recurring_commits"] == [
        {"id": str(term.pk), "ending_before": _iso(world["next"])}
    ]
    assert _made(term.pk) == [(world["this"], Decimal(1000), world["next"], False)]
    assert _purchases(contract) == {world["this"]: Decimal(1000)}
    # No end again: next month's commit is made again, and its purchase draft with it.
    data(
        _edit(
            post,
            world,
            contract,
            update_recurring_commits=[{"recurring_commit_id": str(term.pk), "ending_before": None}],
        )
    )
    term.refresh_from_db()
    assert term.ending_before is None
    assert _made(term.pk) == [
        (world["this"], Decimal(1000), world["next"], False),
        (world["next"], Decimal(1000), world["after"], False),
    ]
    assert _purchases(contract) == {world["this"]: Decimal(1000), world["next"]: Decimal(1000)}


def test_a_recurring_credit_update_changes_its_future_credits(world, post):
    credit = {**_recurring_commit(world), "name": "Monthly credit"}
    del credit["invoice_amount"]
    contract = _contract(post, world, world["this"], recurring_credits=[credit])
    term = RecurringBalance.objects.get(contract_id=contract)
    edit = data(
        _edit(
            post,
            world,
            contract,
            update_recurring_credits=[
                {
                    "recurring_credit_id": str(term.pk),
                    "access_amount": {"unit_price": 250, "quantity": 2},
                    "rate_type": "COMMIT_RATE",
                }
            ],
        )
    )["edit"]
    assert edit["update_recurring_credits"] == [
        {
            "id": str(term.pk),
            "access_amount": {"unit_price": 250, "quantity": 2},
            "rate_type": "COMMIT_RATE",
        }
    ]
    assert _made(term.pk, Credit) == [
        (world["this"], Decimal(1000), world["next"], False),
        (world["next"], Decimal(500), world["after"], False),
    ]
    assert list(
        Credit.objects.filter(recurring=term)
        .order_by("recurrence_start")
        .values_list("rate_type", flat=True)
    ) == ["LIST_RATE", "COMMIT_RATE"]
    # This month's 1000 credit, untouched, still takes the 1000 seat fee off the draft.
    assert _usage_total(contract, world["this"]) == Decimal(0)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"recurring_commit_id": UNKNOWN},
            f"update_recurring_commits[0].recurring_commit_id: This contract has no such "
            f"recurring commit ({UNKNOWN}).",
        ),
        (
            {"proration_rounding": {"invoice": {"decimal_places": 13, "rounding_method": "FLOOR"}}},
            "update_recurring_commits[0].proration_rounding.invoice.decimal_places: Must be at "
            "most 12.",
        ),
        (
            {"proration_rounding": {"access": {"decimal_places": 0, "rounding_method": "DOWN"}}},
            "update_recurring_commits[0].proration_rounding.access.rounding_method: 'DOWN' is "
            "not one of HALF_UP, FLOOR, CEILING.",
        ),
        (
            {"ending_before": "2020-01-01T00:00:00Z"},
            "update_recurring_commits[0].ending_before: Must be after the start.",
        ),
        (
            {"access_amount": {"unit_price": -1}},
            "update_recurring_commits[0].access_amount.unit_price: Must be at least 0.",
        ),
        (
            {"rate_type": "OTHER"},
            None,
        ),
    ],
)
def test_recurring_commit_update_errors(world, post, change, message):
    contract = _contract(post, world, world["this"], recurring_commits=[_recurring_commit(world)])
    term = RecurringBalance.objects.get(contract_id=contract)
    entry = {"recurring_commit_id": str(term.pk), **change}
    got = error(_edit(post, world, contract, update_recurring_commits=[entry]), 400)
    if message is None:
        assert got.startswith("update_recurring_commits[0].rate_type:")
    else:
        assert got == message
    # Nothing changed.
    assert _made(term.pk)[1] == (world["next"], Decimal(1000), world["after"], False)


def test_a_recurring_credit_is_not_updated_as_a_commit(world, post):
    credit = {**_recurring_commit(world)}
    del credit["invoice_amount"]
    contract = _contract(post, world, world["this"], recurring_credits=[credit])
    term = RecurringBalance.objects.get(contract_id=contract)
    assert error(
        _edit(
            post,
            world,
            contract,
            update_recurring_commits=[{"recurring_commit_id": str(term.pk)}],
        ),
        400,
    ) == (
        f"update_recurring_commits[0].recurring_commit_id: This contract has no such recurring "
        f"commit ({term.pk})."
    )


def _discounted(post, world) -> str:
    return _contract(
        post,
        world,
        world["last"],
        discounts=[
            {
                "product_id": str(world["discount"].pk),
                "name": "Launch discount",
                "schedule": {
                    "schedule_items": [
                        {"timestamp": _iso(world["last"]), "amount": 300},
                        {"timestamp": _iso(world["this"]), "amount": 300},
                    ]
                },
            }
        ],
    )


def test_a_discount_update_changes_the_draft_and_never_a_finalized_invoice(world, post):
    contract = _discounted(post, world)
    last = Invoice.objects.get(contract_id=contract, type="USAGE", start_timestamp=world["last"])
    invoice_finalize(invoice=last, now=datetime.now(UTC))
    last.refresh_from_db()
    assert (last.status, last.total) == ("FINALIZED", Decimal(700))
    assert Contract.objects.get(pk=contract).billed_through == world["this"]
    assert _usage_total(contract, world["this"]) == Decimal(700)
    discount_id = data(
        post(
            "/v2/contracts/get",
            {"customer_id": str(world["customer"].pk), "contract_id": contract},
        )
    )["discounts"][0]["id"]

    edit = data(
        _edit(
            post,
            world,
            contract,
            update_discounts=[
                {
                    "id": discount_id,
                    "name": "Loyalty discount",
                    "schedule": {
                        "schedule_items": [
                            {"timestamp": _iso(world["this"]), "amount": 450},
                            {"timestamp": _iso(world["next"]), "unit_price": 100, "quantity": 2},
                        ]
                    },
                }
            ],
        )
    )["edit"]
    assert edit["update_discounts"] == [
        {
            "id": discount_id,
            "name": "Loyalty discount",
            "schedule": {
                "credit_type_id": USD,
                "schedule_items": [
                    {"timestamp": _iso(world["last"]), "amount": 300},
                    {"timestamp": _iso(world["this"]), "amount": 450},
                    {
                        "timestamp": _iso(world["next"]),
                        "amount": 200,
                        "unit_price": 100,
                        "quantity": 2,
                    },
                ],
            },
        }
    ]
    # The draft follows at once; the finalized invoice keeps its 300 off.
    this = invoice_view(
        invoice=Invoice.objects.get(
            contract_id=contract, type="USAGE", start_timestamp=world["this"]
        )
    )
    assert this.total == Decimal(550)
    assert [(line.name, line.total) for line in this.lines if line.total < 0] == [
        ("Loyalty discount", Decimal(-450))
    ]
    last.refresh_from_db()
    assert last.total == Decimal(700)


def test_a_discount_update_refuses_a_date_in_a_finalized_period(world, post):
    contract = _discounted(post, world)
    last = Invoice.objects.get(contract_id=contract, type="USAGE", start_timestamp=world["last"])
    invoice_finalize(invoice=last, now=datetime.now(UTC))
    discount_id = data(
        post(
            "/v2/contracts/get",
            {"customer_id": str(world["customer"].pk), "contract_id": contract},
        )
    )["discounts"][0]["id"]
    body = {
        "id": discount_id,
        "schedule": {
            "recurring_schedule": {
                "amount_distribution": "EACH",
                "starting_at": _iso(world["last"]),
                "ending_before": _iso(world["after"]),
                "frequency": "MONTHLY",
                "amount": 100,
            }
        },
    }
    assert error(_edit(post, world, contract, update_discounts=[body]), 400) == (
        "update_discounts[0].schedule.schedule_items[0].timestamp: Falls in a finalized billing "
        f"period (billed through {world['this']:%Y-%m-%d %H:%M} UTC); finalized invoices never "
        "change."
    )
    # From this month on, the recurring schedule replaces the items.
    body["schedule"]["recurring_schedule"]["starting_at"] = _iso(world["this"])
    edit = data(_edit(post, world, contract, update_discounts=[body]))["edit"]
    (shown,) = edit["update_discounts"]
    assert shown["schedule"]["recurring_schedule"] == {
        "amount_distribution": "EACH",
        "starting_at": _iso(world["this"]),
        "ending_before": _iso(world["after"]),
        "frequency": "MONTHLY",
        "amount": 100,
    }
    assert [(i["timestamp"], i["amount"]) for i in shown["schedule"]["schedule_items"]] == [
        (_iso(world["last"]), 300),
        (_iso(world["this"]), 100),
        (_iso(world["next"]), 100),
    ]
    assert _usage_total(contract, world["this"]) == Decimal(900)


def test_update_discounts_errors(world, post):
    contract = _discounted(post, world)
    assert error(_edit(post, world, contract, update_discounts=[{"id": UNKNOWN}]), 400) == (
        f"update_discounts[0].id: This contract has no such term ({UNKNOWN})."
    )
    discount_id = data(
        post(
            "/v2/contracts/get",
            {"customer_id": str(world["customer"].pk), "contract_id": contract},
        )
    )["discounts"][0]["id"]
    assert error(
        _edit(post, world, contract, update_discounts=[{"id": discount_id, "schedule": {}}]), 400
    ) == (
        "update_discounts[0].schedule.schedule_items: Give at least one date, or a "
        "recurring_schedule."
    )


def test_refund_invoices_are_refused_with_the_reason(world, post):
    contract = _contract(post, world, world["this"])
    body = [{"invoice_id": UNKNOWN, "date": _iso(world["this"])}]
    assert error(_edit(post, world, contract, update_refund_invoices=body), 400) == (
        "update_refund_invoices: Refund invoices do not exist in this product: a finalized "
        "invoice is corrected by voiding it (/v1/invoices/void) and regenerating it "
        "(/v1/invoices/regenerate)."
    )


def test_an_invoice_item_with_no_invoiced_commit_is_refused(world, post):
    recurring = {**_recurring_commit(world)}
    del recurring["invoice_amount"]
    contract = _contract(post, world, world["this"], recurring_commits=[recurring])
    term = RecurringBalance.objects.get(contract_id=contract)
    assert error(
        _edit(
            post,
            world,
            contract,
            update_recurring_commits=[
                {"recurring_commit_id": str(term.pk), "invoice_amount": {"quantity": 2}}
            ],
        ),
        400,
    ) == (
        "update_recurring_commits[0].invoice_amount.unit_price: This commit is not invoiced; "
        "give a unit price to invoice it."
    )
    assert not CommitInvoiceItem.objects.filter(commit__recurring=term).exists()


def _recurring_admin_data(term, **changes) -> dict:
    """The recurring commit's admin page as posted (money typed in dollars)."""
    data = {
        "contract": str(term.contract_id),
        "kind": term.kind,
        "product": str(term.product_id),
        "name": term.name,
        "description": "",
        "priority": "1",
        "rate_type": term.rate_type,
        "access_unit_price": "10",
        "access_quantity": "1",
        "credit_type": str(term.credit_type_id),
        "invoice_unit_price": "10",
        "invoice_quantity": "1",
        "duration_periods": "1",
        "recurrence_frequency": "",
        "proration": term.proration,
        "starting_at_0": f"{term.starting_at:%Y-%m-%d}",
        "starting_at_1": "00:00:00",
        "ending_before_0": "",
        "ending_before_1": "",
        "subscription": "",
        "allocation": term.allocation,
        "applicable_product_tags": "",
        "specifiers-0-product_id": "",
        "rollover_fraction": "",
        "custom_fields": "{}",
        "archived_at_0": "",
        "archived_at_1": "",
    }
    data.update(changes)
    return data


def test_a_recurring_commit_changed_in_the_admin_changes_what_has_not_started(
    world, post, admin_client
):
    contract = _contract(post, world, world["this"], recurring_commits=[_recurring_commit(world)])
    term = RecurringBalance.objects.get(contract_id=contract)
    url = reverse("admin:customers_recurringbalance_change", args=[term.pk])
    response = admin_client.post(
        url, _recurring_admin_data(term, access_unit_price="25", invoice_unit_price="20")
    )
    assert response.status_code == 302, page_errors(response)
    assert _made(term.pk) == [
        (world["this"], Decimal(1000), world["next"], False),
        (world["next"], Decimal(2500), world["after"], False),
    ]
    assert _purchases(contract) == {world["this"]: Decimal(1000), world["next"]: Decimal(2000)}
