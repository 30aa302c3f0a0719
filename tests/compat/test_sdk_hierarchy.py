"""Account hierarchies through the official SDK, strict validation on: a parent contract with
a commit shared with its children and a parent behavior, a child linked to it; both retrieved
in the v1 and v2 shapes; the child's usage drawing the parent's commit."""

import uuid

from tests.compat.conftest import USD
from tests.compat.test_sdk_contract_terms import _contract, offer  # noqa: F401


def _commit(world, amount, **more):
    return {
        "product_id": world["fixed"],
        "type": "PREPAID",
        "name": "Parent commit",
        "priority": 1,
        "access_schedule": {
            "credit_type_id": USD,
            "schedule_items": [
                {
                    "amount": amount,
                    "starting_at": world["start"],
                    "ending_before": world["start"].replace(year=world["start"].year + 1),
                }
            ],
        },
        **more,
    }


def test_parent_and_child_contracts_share_a_commit(client, offer):  # noqa: F811
    parent = _contract(
        client,
        offer,
        commits=[_commit(offer, 1000, hierarchy_configuration={"child_access": {"type": "ALL"}})],
        hierarchy_configuration={"parent_behavior": {"invoice_consolidation_type": "NONE"}},
    )
    child_customer = client.v1.customers.create(name="Child", ingest_aliases=["child-co"]).data.id
    child = client.v1.contracts.create(
        customer_id=child_customer,
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        hierarchy_configuration={
            "parent": {"contract_id": parent, "customer_id": offer["customer"]},
            "payer": "SELF",
            "usage_statement_behavior": "SEPARATE",
        },
    ).data.id

    v2_parent = client.v2.contracts.retrieve(contract_id=parent, customer_id=offer["customer"]).data
    assert [(c.contract_id, c.customer_id) for c in v2_parent.hierarchy_configuration.children] == [
        (child, child_customer)
    ]
    assert v2_parent.hierarchy_configuration.parent_behavior.invoice_consolidation_type == "NONE"
    (commit,) = v2_parent.commits
    assert commit.hierarchy_configuration.child_access.type == "ALL"
    v2_child = client.v2.contracts.retrieve(contract_id=child, customer_id=child_customer).data
    link = v2_child.hierarchy_configuration
    assert (link.parent.contract_id, link.parent.customer_id) == (parent, offer["customer"])
    assert (link.payer, link.usage_statement_behavior) == ("SELF", "SEPARATE")

    v1_parent = client.v1.contracts.retrieve(contract_id=parent, customer_id=offer["customer"]).data
    assert v1_parent.current.hierarchy_configuration.children[0].contract_id == child
    assert v1_parent.initial.commits[0].hierarchy_configuration.child_access.type == "ALL"
    v1_child = client.v1.contracts.retrieve(contract_id=child, customer_id=child_customer).data
    assert v1_child.current.hierarchy_configuration.parent.contract_id == parent
    listed = client.v2.contracts.list(customer_id=child_customer).data
    assert [c.hierarchy_configuration.parent.contract_id for c in listed] == [parent]

    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": "child-co",
                "event_type": "api_call",
                "timestamp": offer["start"].isoformat(),
                "properties": {"user_id": "u1"},
            }
            for _ in range(3)
        ]
    )
    (draft,) = [
        i
        for i in client.v1.customers.invoices.list(customer_id=child_customer, status="DRAFT")
        if i.type == "USAGE"
    ]
    assert sorted((line.type, line.total) for line in draft.line_items) == [
        ("applied_commit_or_credit", -300),
        ("usage", 300),
    ]
    assert draft.total == 0
    assert (draft.payer.contract_id, draft.payer.customer_id) == (child, child_customer)
    balances = client.v1.contracts.list_balances(
        customer_id=offer["customer"], include_contract_balances=True, include_balance=True
    )
    assert [b.balance for b in balances] == [700]


def test_recurring_commits_and_v2_added_commits_take_child_access(client, offer):  # noqa: F811
    parent = _contract(client, offer)
    access = {"type": "CONTRACT_IDS", "contract_ids": [str(uuid.uuid4())]}
    client.v2.contracts.edit(
        contract_id=parent,
        customer_id=offer["customer"],
        add_commits=[_commit(offer, 500, hierarchy_configuration={"child_access": access})],
        add_recurring_credits=[
            {
                "product_id": offer["fixed"],
                "name": "Monthly credit",
                "priority": 1,
                "starting_at": offer["start"],
                "access_amount": {"credit_type_id": USD, "unit_price": 100, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "hierarchy_configuration": {"child_access": {"type": "ALL"}},
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=parent, customer_id=offer["customer"]).data
    (commit,) = shown.commits
    assert commit.hierarchy_configuration.child_access.contract_ids == access["contract_ids"]
    (template,) = shown.recurring_credits
    assert template.hierarchy_configuration.child_access.type == "ALL"
    assert {c.hierarchy_configuration.child_access.type for c in shown.credits} == {"ALL"}
    history = client.v2.contracts.get_edit_history(
        contract_id=parent, customer_id=offer["customer"]
    ).data
    added = [c for edit in history for c in (edit.add_commits or [])]
    assert added[0].hierarchy_configuration.child_access.type == "CONTRACT_IDS"


def _child_contract(client, world, parent: str, alias: str) -> tuple[str, str]:
    customer = client.v1.customers.create(name=alias, ingest_aliases=[alias]).data.id
    contract = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=world["card"],
        starting_at=world["start"],
        hierarchy_configuration={
            "parent": {"contract_id": parent, "customer_id": world["customer"]},
            "payer": "PARENT",
            "usage_statement_behavior": "CONSOLIDATE",
        },
    ).data.id
    return customer, contract


def _calls(client, world, alias: str, count: int) -> None:
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": alias,
                "event_type": "api_call",
                "timestamp": world["start"].isoformat(),
                "properties": {"user_id": "u1"},
            }
            for _ in range(count)
        ]
    )


def test_children_paid_by_the_parent_consolidate_onto_its_invoice(client, offer):  # noqa: F811
    """Two children (3 and 9 calls at 100) on their parent's USAGE_CONSOLIDATED invoice: 1200,
    two constituent invoices, each line naming its origin; the children's invoices name the
    parent as payer. Strict response validation checks every shape."""
    parent = _contract(client, offer)
    first, first_contract = _child_contract(client, offer, parent, "child-one")
    second, second_contract = _child_contract(client, offer, parent, "child-two")
    _calls(client, offer, "child-one", 3)
    _calls(client, offer, "child-two", 9)

    (consolidated,) = client.v1.customers.invoices.list(
        customer_id=offer["customer"], type="USAGE_CONSOLIDATED"
    )
    assert (consolidated.type, consolidated.status, consolidated.total) == (
        "USAGE_CONSOLIDATED",
        "DRAFT",
        1200,
    )
    assert (consolidated.payer.contract_id, consolidated.payer.customer_id) == (
        parent,
        offer["customer"],
    )
    children = {}
    for customer, contract in ((first, first_contract), (second, second_contract)):
        (statement,) = [
            i for i in client.v1.customers.invoices.list(customer_id=customer) if i.type == "USAGE"
        ]
        assert (statement.payer.contract_id, statement.payer.customer_id) == (
            parent,
            offer["customer"],
        )
        assert statement.billable_status == "unbillable"
        children[statement.id] = (contract, customer, statement.total)
    assert sorted(
        (c.invoice_id, c.contract_id, c.customer_id) for c in consolidated.constituent_invoices
    ) == sorted(
        (invoice, contract, customer) for invoice, (contract, customer, _) in children.items()
    )
    by_origin = {}
    for line in consolidated.line_items:
        assert (line.origin.contract_id, line.origin.customer_id) == children[
            line.origin.invoice_id
        ][:2]
        by_origin[line.origin.invoice_id] = by_origin.get(line.origin.invoice_id, 0) + line.total
    assert {invoice: total for invoice, (_, _, total) in children.items()} == by_origin
    assert sorted(by_origin.values()) == [300, 900]
    again = client.v1.customers.invoices.retrieve(
        customer_id=offer["customer"], invoice_id=consolidated.id
    ).data
    assert again.total == 1200 and len(again.constituent_invoices) == 2
