"""Account hierarchies end to end over the API: a parent contract's commit shared with its
children (child_access), the children's drafts drawing it after their own balances, the parent's
balance and ledger, finalization, and the 400s of a bad link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.models import DomainEvent
from customers.models import BalanceLedgerEntry, Contract
from invoicing.models import Invoice
from invoicing.services import InvoiceStateError, invoice_finalize, invoices_finalize_due
from tests.catalog.factories import PricingUnitFactory, RateCardFactory
from tests.invoicing.factories import CustomerFactory, ProductFactory, RateFactory, ingest

pytestmark = pytest.mark.django_db

MARCH = "2026-03-01T00:00:00Z"
UNTIL = "2028-01-01T00:00:00Z"
DEDUCTION = BalanceLedgerEntry.Type.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION


@pytest.fixture
def post(api_client):
    def _post(path: str, body: dict):
        return api_client.post(path, body, format="json")

    return _post


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()["data"]


def _error(response) -> str:
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"message"}
    return response.json()["message"]


@pytest.fixture
def world(db):
    """Tokens at $100.00 (10000 cents) each on one rate card, a commit product."""
    rate = RateFactory(price=Decimal("10000"), product__name="Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Commit product")
    return {"card": str(rate.rate_card_id), "fixed": str(fixed.pk)}


def _commit(world, amount=100000, access=None, **more):
    term = {
        "product_id": world["fixed"],
        "type": "PREPAID",
        "priority": 1,
        "access_schedule": {
            "schedule_items": [{"amount": amount, "starting_at": MARCH, "ending_before": UNTIL}]
        },
        **more,
    }
    if access is not None:
        term["hierarchy_configuration"] = {"child_access": access}
    return term


def _contract(post, world, *, customer=None, **more) -> Contract:
    customer = customer or CustomerFactory()
    body = {
        "customer_id": str(customer.pk),
        "rate_card_id": world["card"],
        "starting_at": MARCH,
        **more,
    }
    return Contract.objects.get(pk=_ok(post("/v1/contracts/create", body))["id"])


def _child(post, world, parent: Contract, **config) -> Contract:
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    return _contract(post, world, hierarchy_configuration={**link, **config})


def _tokens(contract: Contract, amount: int) -> None:
    ingest(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-10T00:00:00Z",
                "properties": {"num_tokens": str(amount)},
            }
        ]
    )


def _march(api_client, contract: Contract) -> dict:
    invoice = Invoice.objects.get(
        contract=contract,
        type=Invoice.Type.USAGE,
        start_timestamp=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return _ok(api_client.get(f"/v1/customers/{contract.customer_id}/invoices/{invoice.pk}"))


def _applied(invoice: dict) -> list:
    return [
        line["total"]
        for line in invoice["line_items"]
        if line["type"] == "applied_commit_or_credit"
    ]


def _family(post, world):
    """A parent with a $1,000.00 commit shared with ALL, and two children, A (the smaller
    contract id: it draws first) and B."""
    parent = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    first, second = _child(post, world, parent), _child(post, world, parent)
    a, b = sorted([first, second], key=lambda c: str(c.pk))
    return parent, a, b


def _parent_balance(post, parent: Contract, **flags) -> dict:
    [row] = _ok(
        post(
            "/v1/contracts/customerBalances/list",
            {"customer_id": str(parent.customer_id), "include_contract_balances": True, **flags},
        )
    )
    return row


def test_children_draw_the_parent_commit_in_contract_id_order(post, api_client, world):
    """A uses 3 tokens ($300), B 9 ($900): A draws $300, B $700 and pays $200; the parent's
    commit holds $0."""
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    invoice_a, invoice_b = _march(api_client, a), _march(api_client, b)
    assert (invoice_a["total"], _applied(invoice_a)) == (0, [-30000])
    assert (invoice_b["total"], _applied(invoice_b)) == (20000, [-70000])
    assert _march(api_client, parent)["total"] == 0
    assert _parent_balance(post, parent, include_balance=True)["balance"] == 0


def test_a_child_left_out_of_contract_ids_pays_its_own_usage(post, api_client, world):
    parent = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    allowed = _child(post, world, parent)
    other = _child(post, world, parent)
    commit = parent.commits.get()  # its access now lists only `allowed`
    commit.child_access = {"type": "CONTRACT_IDS", "contract_ids": [str(allowed.pk)]}
    commit.save()
    _tokens(allowed, 3)
    _tokens(other, 9)
    assert _march(api_client, other)["total"] == 90000
    assert _march(api_client, allowed)["total"] == 0
    assert _parent_balance(post, parent, include_balance=True)["balance"] == 70000


def test_a_commit_without_child_access_is_not_shared(post, api_client, world):
    """Not given is NONE (the SDK documents no default)."""
    parent = _contract(post, world, commits=[_commit(world)])
    child = _child(post, world, parent)
    _tokens(child, 3)
    assert _march(api_client, child)["total"] == 30000
    assert _parent_balance(post, parent, include_balance=True)["balance"] == 100000
    none = _contract(post, world, commits=[_commit(world, access={"type": "NONE"})])
    other = _child(post, world, none)
    _tokens(other, 2)
    assert _march(api_client, other)["total"] == 20000


def test_a_child_draws_its_own_credit_first(post, api_client, world):
    parent = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    credit = _commit(world, amount=10000, priority=9)
    del credit["type"]
    child = _contract(post, world, hierarchy_configuration=link, credits=[credit])
    _tokens(child, 3)
    assert _applied(_march(api_client, child)) == [-10000, -20000]
    assert _parent_balance(post, parent, include_balance=True)["balance"] == 80000


def test_finalized_children_write_the_parent_ledger_naming_their_invoices(post, api_client, world):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    march = {
        invoice.contract_id: invoice
        for invoice in Invoice.objects.filter(
            type=Invoice.Type.USAGE, start_timestamp=datetime(2026, 3, 1, tzinfo=UTC)
        )
    }
    assert {c: i.status for c, i in march.items()} == {
        a.pk: "FINALIZED",
        b.pk: "FINALIZED",
        parent.pk: "FINALIZED",
    }
    assert (march[a.pk].total, march[b.pk].total) == (Decimal("0"), Decimal("20000"))
    row = _parent_balance(post, parent, include_balance=True, include_ledgers=True)
    deductions = [entry for entry in row["ledger"] if entry["type"] == DEDUCTION]
    assert sorted((e["amount"], e["contract_id"], e["invoice_id"]) for e in deductions) == sorted(
        [
            (-30000, str(a.pk), str(march[a.pk].pk)),
            (-70000, str(b.pk), str(march[b.pk].pk)),
        ]
    )
    assert row["balance"] == 0
    frozen = _march(api_client, b)
    assert (frozen["status"], frozen["total"], _applied(frozen)) == ("FINALIZED", 20000, [-70000])


def test_the_link_and_child_access_are_returned(post, api_client, world):
    parent = _contract(
        post,
        world,
        commits=[_commit(world, access={"type": "ALL"})],
        hierarchy_configuration={"parent_behavior": {"invoice_consolidation_type": "NONE"}},
    )
    child = _child(post, world, parent, payer="SELF", usage_statement_behavior="SEPARATE")
    got = _ok(
        post(
            "/v2/contracts/get",
            {"customer_id": str(parent.customer_id), "contract_id": str(parent.pk)},
        )
    )
    assert got["hierarchy_configuration"] == {
        "children": [{"contract_id": str(child.pk), "customer_id": str(child.customer_id)}],
        "parent_behavior": {"invoice_consolidation_type": "NONE"},
    }
    assert got["commits"][0]["hierarchy_configuration"] == {"child_access": {"type": "ALL"}}
    v1 = _ok(
        post(
            "/v1/contracts/get",
            {"customer_id": str(child.customer_id), "contract_id": str(child.pk)},
        )
    )
    assert v1["current"]["hierarchy_configuration"] == {
        "parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)},
        "payer": "SELF",
        "usage_statement_behavior": "SEPARATE",
    }


def test_bad_links_are_400s_naming_the_field(post, world):
    parent = _contract(post, world)
    customer = CustomerFactory()
    base = {"customer_id": str(customer.pk), "rate_card_id": world["card"], "starting_at": MARCH}

    def create(config, **more):
        return _error(
            post("/v1/contracts/create", {**base, "hierarchy_configuration": config, **more})
        )

    link = {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}
    unknown = {"contract_id": str(uuid.uuid4()), "customer_id": str(parent.customer_id)}
    assert (
        create({"parent": unknown})
        == "hierarchy_configuration.parent.contract_id: No such contract."
    )
    assert create({"parent": {**link, "customer_id": str(customer.pk)}}) == (
        "hierarchy_configuration.parent.customer_id: The parent contract belongs to another "
        "customer."
    )
    assert create({"payer": "PARENT"}) == (
        "hierarchy_configuration.payer: Only a child contract (with a parent)."
    )
    assert create({"parent": link, "payer": "SOMEONE"}).startswith("hierarchy_configuration.payer:")
    # CONSOLIDATE is taken with payer PARENT (tests/invoicing/test_consolidated_invoices.py).
    assert create({"parent": link, "usage_statement_behavior": "CONSOLIDATE"}) == (
        "hierarchy_configuration.usage_statement_behavior: CONSOLIDATE needs payer PARENT: the "
        "parent pays for the statements consolidated on its invoice."
    )
    # CONCATENATE is taken (tests/invoicing/test_consolidated_invoices.py); not on a contract
    # whose own statements are consolidated into its parent's invoice.
    assert create(
        {
            "parent": link,
            "payer": "PARENT",
            "usage_statement_behavior": "CONSOLIDATE",
            "parent_behavior": {"invoice_consolidation_type": "CONCATENATE"},
        }
    ) == (
        "hierarchy_configuration.parent_behavior.invoice_consolidation_type: A contract whose "
        "statements are consolidated into its parent's invoice has no consolidated invoice of "
        "its own."
    )
    assert create(
        {"parent": link}, starting_at="2020-01-01T00:00:00Z", ending_before="2021-01-01T00:00:00Z"
    ) == (
        "hierarchy_configuration.parent.contract_id: The parent contract's dates do not overlap "
        "this one's."
    )
    euros = RateCardFactory(fiat_credit_type=PricingUnitFactory(name="EUR", is_currency=True))
    assert create({"parent": link}, rate_card_id=str(euros.pk)) == (
        "hierarchy_configuration.parent.contract_id: The parent contract bills in another "
        "currency (USD (cents))."
    )
    bad_access = {**base, "commits": [_commit(world, access={"type": "CONTRACT_IDS"})]}
    assert _error(post("/v1/contracts/create", bad_access)) == (
        "commits[0].hierarchy_configuration.child_access: child_access of type CONTRACT_IDS "
        "needs a list of contract_ids."
    )
    assert Contract.objects.count() == 1


def test_editing_a_commit_shares_it_and_drafts_follow(post, api_client, world):
    """v2 commits/edit (and update_commits) set child_access: the child's draft draws at once."""
    parent = _contract(post, world, commits=[_commit(world)])
    child = _child(post, world, parent)
    _tokens(child, 3)
    assert _march(api_client, child)["total"] == 30000
    commit = parent.commits.get()
    body = {
        "customer_id": str(parent.customer_id),
        "commit_id": str(commit.pk),
        "hierarchy_configuration": {"child_access": {"type": "ALL"}},
    }
    _ok(post("/v2/contracts/commits/edit", body))
    assert _march(api_client, child)["total"] == 0
    edit = {
        "customer_id": str(parent.customer_id),
        "contract_id": str(parent.pk),
        "update_commits": [
            {
                "commit_id": str(commit.pk),
                "hierarchy_configuration": {"child_access": {"type": "NONE"}},
            }
        ],
    }
    _ok(post("/v2/contracts/edit", edit))
    assert _march(api_client, child)["total"] == 30000
    bad = {**body, "hierarchy_configuration": {"child_access": {"type": "EVERYONE"}}}
    assert _error(post("/v2/contracts/commits/edit", bad)).startswith(
        "hierarchy_configuration.child_access.type:"
    )


def test_a_childs_usage_invoice_names_its_payer(post, api_client, world):
    """`payer` on a child's usage invoices, drafts and finalized: the parent with payer PARENT
    (accepted on create; it was refused with a 400 before billing the parent existed), itself
    with SELF; a contract outside a hierarchy has none."""
    parent = _contract(post, world)
    paid_by_parent = _child(post, world, parent, payer="PARENT")
    pays_itself = _child(post, world, parent, payer="SELF")
    assert paid_by_parent.hierarchy_payer == "PARENT"
    by_parent = {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}
    assert _march(api_client, paid_by_parent)["payer"] == by_parent
    assert _march(api_client, pays_itself)["payer"] == {
        "contract_id": str(pays_itself.pk),
        "customer_id": str(pays_itself.customer_id),
    }
    assert "payer" not in _march(api_client, parent)
    listed = _ok(api_client.get(f"/v1/customers/{paid_by_parent.customer_id}/invoices"))
    usage = [invoice for invoice in listed if invoice["type"] == "USAGE"]
    assert usage and {invoice["payer"]["contract_id"] for invoice in usage} == {str(parent.pk)}
    _tokens(paid_by_parent, 2)
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    finalized = _march(api_client, paid_by_parent)
    assert (finalized["status"], finalized["total"], finalized["payer"]) == (
        "FINALIZED",
        20000,
        by_parent,
    )


def test_a_grandchild_paid_by_a_parent_that_its_own_parent_pays_for_is_paid_by_the_top(
    post, api_client, world
):
    """payer PARENT all the way up: the charge goes to the nearest ancestor paying for itself."""
    top = _contract(post, world)
    middle = _child(post, world, top, payer="PARENT")
    bottom = _child(post, world, middle, payer="PARENT")
    assert _march(api_client, bottom)["payer"] == {
        "contract_id": str(top.pk),
        "customer_id": str(top.customer_id),
    }
    pays_itself = _child(post, world, middle, payer="SELF")
    assert _march(api_client, pays_itself)["payer"]["contract_id"] == str(pays_itself.pk)


def test_the_finalized_event_names_the_payer(post, world):
    """`invoice.finalized` (what payments and the webhooks hear) carries the payer."""
    parent = _contract(post, world)
    child = _child(post, world, parent, payer="PARENT")
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    march = Invoice.objects.get(contract=child, type="USAGE", start_timestamp=MARCH)
    event = DomainEvent.objects.get(type="invoice.finalized", subject_id=march.pk)
    assert event.payload["payer"] == {
        "contract_id": str(parent.pk),
        "customer_id": str(parent.customer_id),
    }
    own = Invoice.objects.get(contract=parent, type="USAGE", start_timestamp=MARCH)
    assert (
        "payer" not in DomainEvent.objects.get(type="invoice.finalized", subject_id=own.pk).payload
    )


def test_a_shared_postpaid_commit_is_trued_up_net_of_the_childrens_draws(post, api_client, world):
    """$1,000.00 POSTPAID for March shared with ALL; the child uses $300 (drawn from the commit,
    and billed: a postpaid commit is paid in arrears): the parent's March invoice trues up the
    $700 nobody drew."""
    april = "2026-04-01T00:00:00Z"
    postpaid = _commit(world, access={"type": "ALL"}, type="POSTPAID")
    postpaid["access_schedule"]["schedule_items"][0]["ending_before"] = april
    postpaid["invoice_schedule"] = {"schedule_items": [{"timestamp": april, "amount": 100000}]}
    parent = _contract(post, world, commits=[postpaid])
    child = _child(post, world, parent)
    _tokens(child, 3)
    assert _applied(_march(api_client, child)) == [-30000]
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    child_invoice, parent_invoice = _march(api_client, child), _march(api_client, parent)
    assert (child_invoice["status"], child_invoice["total"]) == ("FINALIZED", 30000)
    trueups = [
        line["total"] for line in parent_invoice["line_items"] if line["type"] == "postpaid_trueup"
    ]
    assert (parent_invoice["status"], trueups, parent_invoice["total"]) == (
        "FINALIZED",
        [70000],
        70000,
    )


def _postpaid_parent(post, world, **child_config) -> tuple[Contract, Contract]:
    """A parent with a $1,000.00 POSTPAID commit for March shared with ALL, and a child."""
    april = "2026-04-01T00:00:00Z"
    postpaid = _commit(world, access={"type": "ALL"}, type="POSTPAID")
    postpaid["access_schedule"]["schedule_items"][0]["ending_before"] = april
    postpaid["invoice_schedule"] = {"schedule_items": [{"timestamp": april, "amount": 100000}]}
    parent = _contract(post, world, commits=[postpaid])
    return parent, _child(post, world, parent, **child_config)


def test_a_parents_true_up_waits_for_its_childs_draft(post, api_client, world):
    """The parent's March invoice finalized by hand while the child's draft may still draw the
    POSTPAID commit: refused, naming the child's invoice (its $300.00 draw may grow). The child
    gets $500.00 more; when due, both are finalized: $800.00 drawn and billed on the child's,
    the parent's true-up $200.00: $1,000.00 in all."""
    parent, child = _postpaid_parent(post, world)
    _tokens(child, 3)
    parent_draft = Invoice.objects.get(contract=parent, type="USAGE", start_timestamp=MARCH)
    child_draft = Invoice.objects.get(contract=child, type="USAGE", start_timestamp=MARCH)
    with pytest.raises(InvoiceStateError) as refused:
        invoice_finalize(invoice=parent_draft, now=datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert str(child_draft.pk) in refused.value.messages[0]
    _tokens(child, 5)
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    child_invoice, parent_invoice = _march(api_client, child), _march(api_client, parent)
    assert (child_invoice["status"], child_invoice["total"]) == ("FINALIZED", 80000)
    assert (parent_invoice["status"], parent_invoice["total"]) == ("FINALIZED", 20000)


def test_a_consolidated_parents_true_up_is_finalized_with_its_childs_statement(
    post, api_client, world
):
    """The child's statement consolidated on the parent's USAGE_CONSOLIDATED invoice: when due,
    all are finalized in one batch; the parent's own invoice trues up $700.00 net of the child's
    $300.00 ($300.00 consolidated): $1,000.00 in all."""
    parent, child = _postpaid_parent(
        post, world, payer="PARENT", usage_statement_behavior="CONSOLIDATE"
    )
    _tokens(child, 3)
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    head = Invoice.objects.get(contract=parent, type="USAGE_CONSOLIDATED", start_timestamp=MARCH)
    own = Invoice.objects.get(contract=parent, type="USAGE", start_timestamp=MARCH)
    assert [(i.status, i.total, i.consolidated_into_id) for i in (head, own)] == [
        ("FINALIZED", Decimal("30000"), None),
        ("FINALIZED", Decimal("70000"), None),
    ]


def test_a_grandchild_draws_its_parents_then_its_grandparents_shared_commits(
    post, api_client, world
):
    """Golden: the grandparent shares $1,000.00, the parent $200.00 (both ALL). The grandchild
    uses 5 tokens ($500): the parent's $200 first, then $300 of the grandparent's. The parent
    uses 9 ($900), rated after its child (deeper first): its own commit is gone, it draws the
    grandparent's last $700 and pays $200. Finalized, the ledgers say the same."""
    top = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    link = {"parent": {"contract_id": str(top.pk), "customer_id": str(top.customer_id)}}
    middle = _contract(
        post,
        world,
        hierarchy_configuration=link,
        commits=[_commit(world, amount=20000, access={"type": "ALL"})],
    )
    bottom = _child(post, world, middle)
    assert (top.hierarchy_depth, middle.hierarchy_depth, bottom.hierarchy_depth) == (0, 1, 2)
    _tokens(bottom, 5)
    _tokens(middle, 9)
    grandchild = _march(api_client, bottom)
    assert (grandchild["total"], _applied(grandchild)) == (0, [-20000, -30000])
    parent = _march(api_client, middle)
    assert (parent["total"], _applied(parent)) == (20000, [-70000])
    assert _parent_balance(post, top, include_balance=True)["balance"] == 0
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert (_march(api_client, bottom)["total"], _march(api_client, middle)["total"]) == (0, 20000)
    drawn = {
        (entry.segment.commit.contract_id, entry.contract_id): entry.amount
        for entry in BalanceLedgerEntry.objects.filter(type=DEDUCTION).select_related(
            "segment__commit"
        )
    }
    assert drawn == {
        (middle.pk, bottom.pk): Decimal("-20000"),
        (top.pk, bottom.pk): Decimal("-30000"),
        (top.pk, middle.pk): Decimal("-70000"),
    }


def test_a_grandparent_and_its_grandchild_share_a_turn_when_the_middle_contract_has_no_draft(
    post, api_client, world
):
    """Golden: the grandparent shares $1,000.00 with ALL; the middle contract has no draft in
    March (none to link the two by). The grandchild uses 7 tokens ($700), drawn first (deeper);
    the grandparent uses 6 ($600): its draft sees the $300 left and pays $300, as finalization
    makes it (the draw order joins a whole hierarchy, not only the contracts with drafts)."""
    top = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    middle = _child(post, world, top)
    bottom = _child(post, world, middle)
    Invoice.objects.filter(contract=middle, type=Invoice.Type.USAGE).delete()
    _tokens(bottom, 7)
    _tokens(top, 6)
    assert (_march(api_client, bottom)["total"], _applied(_march(api_client, bottom))) == (
        0,
        [-70000],
    )
    assert (_march(api_client, top)["total"], _applied(_march(api_client, top))) == (
        30000,
        [-30000],
    )
    invoices_finalize_due(now=datetime(2026, 4, 3, tzinfo=UTC))
    assert (_march(api_client, bottom)["total"], _march(api_client, top)["total"]) == (0, 30000)
    drawn = sorted(
        BalanceLedgerEntry.objects.filter(type=DEDUCTION).values_list("contract_id", "amount"),
        key=lambda row: row[1],
    )
    assert drawn == [(bottom.pk, Decimal("-70000")), (top.pk, Decimal("-30000"))]


def test_a_grandparents_commit_shared_with_listed_contracts_only_skips_the_others(
    post, api_client, world
):
    top = _contract(post, world, commits=[_commit(world, access={"type": "ALL"})])
    middle = _child(post, world, top)
    bottom = _child(post, world, middle)
    commit = top.commits.get()
    commit.child_access = {"type": "CONTRACT_IDS", "contract_ids": [str(middle.pk)]}
    commit.save()
    _tokens(bottom, 2)
    assert _march(api_client, bottom)["total"] == 20000
    commit.child_access = {"type": "CONTRACT_IDS", "contract_ids": [str(bottom.pk)]}
    commit.save()
    assert _march(api_client, bottom)["total"] == 0


def test_a_contract_from_a_package_takes_a_hierarchy_configuration(post, api_client, world):
    """hierarchy_configuration with package_id (refused before): the contract made from the
    package is a child as one made with the same terms given directly: it draws the parent's
    shared commit and consolidates onto the parent's invoice."""
    package = _ok(
        post(
            "/v1/packages/create",
            {
                "name": "Team",
                "rate_card_id": world["card"],
                "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
            },
        )
    )
    parent = _contract(post, world, commits=[_commit(world, amount=20000, access={"type": "ALL"})])
    customer = CustomerFactory()
    created = _ok(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "package_id": package["id"],
                "starting_at": MARCH,
                "hierarchy_configuration": {
                    "parent": {
                        "contract_id": str(parent.pk),
                        "customer_id": str(parent.customer_id),
                    },
                    "payer": "PARENT",
                    "usage_statement_behavior": "CONSOLIDATE",
                },
            },
        )
    )
    child = Contract.objects.get(pk=created["id"])
    assert (child.package_id, child.parent_contract_id, child.hierarchy_depth) == (
        uuid.UUID(package["id"]),
        parent.pk,
        1,
    )
    _tokens(child, 3)
    statement = _march(api_client, child)
    assert (statement["total"], _applied(statement)) == (10000, [-20000])
    assert statement["payer"]["contract_id"] == str(parent.pk)
    consolidated = Invoice.objects.get(
        contract=parent, type="USAGE_CONSOLIDATED", start_timestamp=MARCH
    )
    assert str(consolidated.pk) == str(Invoice.objects.get(pk=statement["id"]).consolidated_into_id)
    bad = _error(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(CustomerFactory().pk),
                "package_id": package["id"],
                "starting_at": MARCH,
                "hierarchy_configuration": {
                    "parent": {
                        "contract_id": str(parent.pk),
                        "customer_id": str(parent.customer_id),
                    },
                    "usage_statement_behavior": "CONSOLIDATE",
                },
            },
        )
    )
    assert bad.startswith("hierarchy_configuration.usage_statement_behavior: CONSOLIDATE needs")
