"""Consolidated invoices of account hierarchies end to end through the API: two children with
payer PARENT and usage_statement_behavior CONSOLIDATE put their March statements on their
parent's USAGE_CONSOLIDATED invoice; its lines are theirs (with `origin`), its total their sum.

Golden cases by hand (Tokens at $100.00 each, amounts in cents):
- A uses 3 tokens ($300.00), B 9 ($900.00): the consolidated invoice is $1,200.00 with two
  constituents.
- The same with the parent's $1,000.00 commit shared with both (A, the smaller contract id,
  draws first): A $300 drawn -> $0, B $700 drawn -> $200: the consolidated invoice is $200.00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.models import DomainEvent
from invoicing.models import Invoice
from invoicing.services import (
    invoice_finalize,
    invoice_regenerate,
    invoice_void,
    invoices_finalize_due,
)
from tests.customers.test_hierarchy_api import _commit, _contract, _error, _ok, _tokens, world  # noqa: F401
from tests.invoicing.factories import CustomerFactory

pytestmark = pytest.mark.django_db

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL_3 = datetime(2026, 4, 3, tzinfo=UTC)


@pytest.fixture
def post(api_client):
    def _post(path: str, body: dict):
        return api_client.post(path, body, format="json")

    return _post


def _child(post, world, parent, **config):  # noqa: F811
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    config = {"payer": "PARENT", "usage_statement_behavior": "CONSOLIDATE", **config}
    return _contract(post, world, hierarchy_configuration={**link, **config})


def _family(post, world, **parent_terms):  # noqa: F811
    parent = _contract(post, world, **parent_terms)
    first, second = _child(post, world, parent), _child(post, world, parent)
    a, b = sorted([first, second], key=lambda c: str(c.pk))
    return parent, a, b


def _get(api_client, invoice: Invoice) -> dict:
    return _ok(api_client.get(f"/v1/customers/{invoice.customer_id}/invoices/{invoice.pk}"))


def _consolidated(parent) -> Invoice:
    return Invoice.objects.get(
        contract=parent,
        type="USAGE_CONSOLIDATED",
        start_timestamp=MARCH,
        status__in=["DRAFT", "FINALIZED"],
    )


def _usage(contract) -> Invoice:
    return Invoice.objects.get(
        contract=contract, type="USAGE", start_timestamp=MARCH, status__in=["DRAFT", "FINALIZED"]
    )


def test_two_children_consolidate_onto_the_parents_invoice(post, api_client, world):  # noqa: F811
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    consolidated = _get(api_client, _consolidated(parent))
    assert (consolidated["type"], consolidated["status"]) == ("USAGE_CONSOLIDATED", "DRAFT")
    assert (consolidated["customer_id"], consolidated["contract_id"]) == (
        str(parent.customer_id),
        str(parent.pk),
    )
    assert consolidated["total"] == 120000
    assert consolidated["constituent_invoices"] == [
        {
            "contract_id": str(c.pk),
            "customer_id": str(c.customer_id),
            "invoice_id": str(_usage(c).pk),
        }
        for c in (a, b)
    ]
    assert [
        (line["total"], line["origin"]["contract_id"]) for line in consolidated["line_items"]
    ] == [
        (30000, str(a.pk)),
        (90000, str(b.pk)),
    ]
    assert consolidated["payer"] == {
        "contract_id": str(parent.pk),
        "customer_id": str(parent.customer_id),
    }
    child = _get(api_client, _usage(a))
    assert (child["total"], child["billable_status"]) == (30000, "unbillable")


def test_with_a_shared_commit_the_consolidated_invoice_is_what_is_left_to_pay(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world, commits=[_commit(world, access={"type": "ALL"})])
    _tokens(a, 3)
    _tokens(b, 9)
    assert (_get(api_client, _usage(a))["total"], _get(api_client, _usage(b))["total"]) == (
        0,
        20000,
    )
    assert _get(api_client, _consolidated(parent))["total"] == 20000
    invoices_finalize_due(now=APRIL_3)
    frozen = _consolidated(parent)
    assert (frozen.status, frozen.total) == ("FINALIZED", Decimal("20000"))
    assert {i.status for i in (_usage(a), _usage(b))} == {"FINALIZED"}
    assert sum(i.total for i in (_usage(a), _usage(b))) == frozen.total
    shown = _get(api_client, frozen)
    assert [line["origin"]["invoice_id"] for line in shown["line_items"]] == [
        str(_usage(a).pk),
        str(_usage(a).pk),
        str(_usage(b).pk),
        str(_usage(b).pk),
    ]


def test_the_consolidated_draft_follows_the_children_at_once(post, api_client, world):  # noqa: F811
    parent, a, b = _family(post, world)
    consolidated = _consolidated(parent)
    assert _get(api_client, consolidated)["total"] == 0
    _tokens(b, 2)
    assert _get(api_client, consolidated)["total"] == 20000
    _tokens(a, 1)
    assert _get(api_client, consolidated)["total"] == 30000


def test_finalizing_twice_makes_one_consolidated_invoice(post, api_client, world):  # noqa: F811
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    first = invoices_finalize_due(now=APRIL_3)
    again = invoices_finalize_due(now=APRIL_3)
    assert again == 0 and first >= 4
    (consolidated,) = Invoice.objects.filter(
        contract=parent, type="USAGE_CONSOLIDATED", start_timestamp=MARCH
    )
    assert (consolidated.status, consolidated.total) == ("FINALIZED", Decimal("120000"))
    assert consolidated.line_items.count() == 2
    outcome = invoice_finalize(invoice=consolidated, now=APRIL_3)
    assert outcome.finalized is False
    assert consolidated.number > max(_usage(a).number, _usage(b).number)
    finalized = {
        event.subject_id: event.payload
        for event in DomainEvent.objects.filter(type="invoice.finalized")
    }
    paid_by_parent = {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}
    assert finalized[str(_usage(a).pk)]["payer"] == paid_by_parent
    assert finalized[str(_usage(a).pk)]["consolidated_invoice_id"] == str(consolidated.pk)
    assert finalized[str(consolidated.pk)]["payer"] == paid_by_parent
    assert "consolidated_invoice_id" not in finalized[str(consolidated.pk)]


def test_finalizing_the_consolidated_draft_early_finalizes_its_constituents_first(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    outcome = invoice_finalize(invoice=_consolidated(parent), now=datetime(2026, 3, 20, tzinfo=UTC))
    assert (outcome.invoice.status, outcome.invoice.total) == ("FINALIZED", Decimal("30000"))
    assert {_usage(a).status, _usage(b).status} == {"FINALIZED"}
    assert (
        _usage(parent).status == "DRAFT"
    )  # the parent's own statement stays apart (not CONCATENATE)


def test_the_parents_invoice_list_shows_its_usage_and_its_consolidated_invoices(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, _ = _family(post, world)
    listed = _ok(api_client.get(f"/v1/customers/{parent.customer_id}/invoices"))
    assert sorted(i["type"] for i in listed if i["start_timestamp"] == "2026-03-01T00:00:00Z") == [
        "USAGE",
        "USAGE_CONSOLIDATED",
    ]
    only = _ok(
        api_client.get(
            f"/v1/customers/{parent.customer_id}/invoices", {"type": "USAGE_CONSOLIDATED"}
        )
    )
    assert {i["type"] for i in only} == {"USAGE_CONSOLIDATED"} and only
    children = _ok(api_client.get(f"/v1/customers/{a.customer_id}/invoices"))
    assert {i["type"] for i in children} == {"USAGE"}
    assert {i["billable_status"] for i in children} == {"unbillable"}


def test_a_constituent_of_an_issued_consolidated_invoice_is_not_voided_alone(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, _ = _family(post, world)
    _tokens(a, 3)
    invoices_finalize_due(now=APRIL_3)
    consolidated = _consolidated(parent)
    message = _error(post("/v1/invoices/void", {"id": str(_usage(a).pk)}))
    assert message == (
        f"Invoice {_usage(a).pk} is billed on the consolidated invoice #{consolidated.number} "
        f"({consolidated.pk}): void that one, which voids its constituents with it."
    )
    assert _usage(a).status == "FINALIZED"


def test_voiding_the_consolidated_invoice_voids_its_constituents_and_regenerating_any_regenerates_the_lot(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    invoices_finalize_due(now=APRIL_3)
    old = _consolidated(parent)
    old_a, old_b = _usage(a), _usage(b)
    _ok(post("/v1/invoices/void", {"id": str(old.pk)}))
    assert {i.status for i in Invoice.objects.filter(pk__in=[old.pk, old_a.pk, old_b.pk])} == {
        "VOID"
    }
    _tokens(b, 1)  # late usage the regenerated lot picks up
    new_b = Invoice.objects.get(
        pk=_ok(post("/v1/invoices/regenerate", {"id": str(old_b.pk)}))["id"]
    )
    new = _consolidated(parent)
    assert (new.status, new.regenerated_from_id, new_b.regenerated_from_id) == (
        "DRAFT",
        old.pk,
        old_b.pk,
    )
    assert {m.pk for m in new.constituents.all()} == {_usage(a).pk, new_b.pk}
    assert _usage(a).regenerated_from_id == old_a.pk
    assert _get(api_client, new)["total"] == 130000
    invoices_finalize_due(now=datetime(2026, 4, 5, tzinfo=UTC))
    assert (_consolidated(parent).status, _consolidated(parent).total) == (
        "FINALIZED",
        Decimal("130000"),
    )


def test_a_constituent_finalized_early_and_voided_leaves_the_draft_lot_and_rejoins_it(
    post,
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    early = invoice_finalize(invoice=_usage(a), now=datetime(2026, 3, 20, tzinfo=UTC)).invoice
    invoice_void(invoice=early, now=datetime(2026, 3, 21, tzinfo=UTC))
    consolidated = _consolidated(parent)
    assert [m.pk for m in consolidated.constituents.all()] == [_usage(b).pk]
    assert _get(api_client, consolidated)["total"] == 90000
    again = invoice_regenerate(invoice=early, now=datetime(2026, 3, 22, tzinfo=UTC))
    assert again.consolidated_into_id == consolidated.pk
    assert _get(api_client, consolidated)["total"] == 120000


def test_a_child_left_alone_in_a_lot_removed_from_it_leaves_no_empty_consolidated_draft(
    post,
    api_client,
    world,  # noqa: F811
):
    parent = _contract(post, world)
    child = _child(post, world, parent)
    assert _consolidated(parent).status == "DRAFT"
    _ok(
        post(
            "/v1/contracts/archive",
            {
                "customer_id": str(child.customer_id),
                "contract_id": str(child.pk),
                "void_invoices": True,
            },
        )
    )
    assert not Invoice.objects.filter(contract=parent, type="USAGE_CONSOLIDATED").exists()


def test_consolidation_needs_payer_parent_a_parent_that_consolidates_and_the_same_periods(
    post,
    world,  # noqa: F811
):
    """The combinations Metronome forbids, and what cannot be consolidated period by period,
    are 400s naming the field (CONSOLIDATE itself was refused before consolidated invoices)."""
    parent = _contract(post, world)
    link = {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}

    def create(config, **more):
        body = {
            "customer_id": str(CustomerFactory().pk),
            "rate_card_id": world["card"],
            "starting_at": "2026-03-01T00:00:00Z",
            "hierarchy_configuration": {"parent": link, **config},
            **more,
        }
        return _error(post("/v1/contracts/create", body))

    field = "hierarchy_configuration.usage_statement_behavior"
    assert create({"usage_statement_behavior": "CONSOLIDATE"}) == (
        f"{field}: CONSOLIDATE needs payer PARENT: the parent pays for the statements "
        "consolidated on its invoice."
    )
    assert create({"usage_statement_behavior": "CONSOLIDATE", "payer": "SELF"}).startswith(
        f"{field}: CONSOLIDATE needs payer PARENT"
    )
    assert create(
        {"usage_statement_behavior": "CONSOLIDATE", "payer": "PARENT"},
        usage_statement_schedule={"frequency": "QUARTERLY"},
    ) == (
        f"{field}: Its usage statement schedule must have the parent's periods (MONTHLY, "
        "FIRST_OF_MONTH) to be consolidated period by period."
    )
    assert create(
        {"usage_statement_behavior": "CONSOLIDATE", "payer": "PARENT"},
        starting_at="2026-03-10T00:00:00Z",
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
    ).startswith(f"{field}: Its usage statement schedule must have the parent's periods")
    refusing = _contract(
        post,
        world,
        hierarchy_configuration={"parent_behavior": {"invoice_consolidation_type": "NONE"}},
    )
    body = {
        "customer_id": str(CustomerFactory().pk),
        "rate_card_id": world["card"],
        "starting_at": "2026-03-01T00:00:00Z",
        "hierarchy_configuration": {
            "parent": {"contract_id": str(refusing.pk), "customer_id": str(refusing.customer_id)},
            "payer": "PARENT",
            "usage_statement_behavior": "CONSOLIDATE",
        },
    }
    assert _error(post("/v1/contracts/create", body)) == (
        f"{field}: The parent generates no consolidated invoices "
        "(parent_behavior.invoice_consolidation_type NONE)."
    )
    middle = _child(post, world, parent)
    grandchild = {
        **body,
        "hierarchy_configuration": {
            **body["hierarchy_configuration"],
            "parent": {"contract_id": str(middle.pk), "customer_id": str(middle.customer_id)},
        },
    }
    assert _error(post("/v1/contracts/create", grandchild)) == (
        f"{field}: The parent's own statements are consolidated into its parent's invoice: "
        "consolidation is one level."
    )


def test_a_child_starting_mid_period_consolidates_its_cut_period(post, api_client, world):  # noqa: F811
    parent = _contract(post, world)
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    child = _contract(
        post,
        world,
        starting_at="2026-03-10T00:00:00Z",
        hierarchy_configuration={
            **link,
            "payer": "PARENT",
            "usage_statement_behavior": "CONSOLIDATE",
        },
    )
    statement = Invoice.objects.get(
        contract=child, type="USAGE", start_timestamp__lt=datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert statement.consolidated_into_id == _consolidated(parent).pk


def test_a_statement_of_a_period_already_issued_is_billed_on_its_own(post, api_client, world):  # noqa: F811
    parent, *_ = _family(post, world)
    invoices_finalize_due(now=APRIL_3)
    assert _consolidated(parent).status == "FINALIZED"
    late = _child(post, world, parent)
    march = _usage(late)
    assert (march.status, march.consolidated_into_id) == ("DRAFT", None)
    shown = _get(api_client, march)
    assert (shown["billable_status"], shown["payer"]["contract_id"]) == ("billable", str(parent.pk))


CONCATENATE = {"parent_behavior": {"invoice_consolidation_type": "CONCATENATE"}}


def test_concatenate_puts_the_parents_own_statement_first_on_the_consolidated_invoice(
    post,
    api_client,
    world,  # noqa: F811
):
    """Golden: the parent uses 1 token ($100), its children 3 and 9: one invoice of $1,300.00
    for the period, the parent's lines first, three constituents; the parent's own usage
    invoice is not billed on its own."""
    parent, a, b = _family(post, world, hierarchy_configuration=CONCATENATE)
    _tokens(parent, 1)
    _tokens(a, 3)
    _tokens(b, 9)
    shown = _get(api_client, _consolidated(parent))
    assert shown["total"] == 130000
    assert [c["contract_id"] for c in shown["constituent_invoices"]] == [
        str(parent.pk),
        str(a.pk),
        str(b.pk),
    ]
    assert [(line["origin"]["contract_id"], line["total"]) for line in shown["line_items"]] == [
        (str(parent.pk), 10000),
        (str(a.pk), 30000),
        (str(b.pk), 90000),
    ]
    own = _get(api_client, _usage(parent))
    assert (own["total"], own["billable_status"]) == (10000, "unbillable")
    invoices_finalize_due(now=APRIL_3)
    frozen = _consolidated(parent)
    assert (frozen.status, frozen.total, frozen.constituents.count()) == (
        "FINALIZED",
        Decimal("130000"),
        3,
    )
    assert _usage(parent).status == "FINALIZED"


def test_concatenate_with_a_shared_commit_the_parent_draws_after_its_children(
    post,
    api_client,
    world,  # noqa: F811
):
    """$1,000 shared: A draws $300, B $700 and owes $200, the parent finds nothing left and
    owes its $100: one invoice of $300.00."""
    parent, a, b = _family(
        post,
        world,
        hierarchy_configuration=CONCATENATE,
        commits=[_commit(world, access={"type": "ALL"})],
    )
    _tokens(parent, 1)
    _tokens(a, 3)
    _tokens(b, 9)
    assert _get(api_client, _consolidated(parent))["total"] == 30000
    invoices_finalize_due(now=APRIL_3)
    assert _consolidated(parent).total == Decimal("30000")
    assert [_usage(c).total for c in (parent, a, b)] == [
        Decimal("10000"),
        Decimal("0"),
        Decimal("20000"),
    ]


def test_concatenate_without_a_consolidating_child_bills_the_parent_alone(
    post,
    api_client,
    world,  # noqa: F811
):
    parent = _contract(post, world, hierarchy_configuration=CONCATENATE)
    separate = _contract(
        post,
        world,
        hierarchy_configuration={
            "parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)},
            "payer": "PARENT",
            "usage_statement_behavior": "SEPARATE",
        },
    )
    _tokens(parent, 1)
    assert not Invoice.objects.filter(type="USAGE_CONSOLIDATED").exists()
    assert _get(api_client, _usage(parent))["total"] == 10000
    assert _usage(separate).consolidated_into_id is None
