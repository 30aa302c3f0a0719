"""Account hierarchies through the pure engine: children draw a parent's shared commit after
their own balances, one invoice after the other (`rate_in_order`), the draw conserved. Golden
cases to check by hand, and a hypothesis property."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from customers.hierarchy import child_access_errors, child_may_draw
from invoicing.rating import LineType, rate_in_order, rate_invoice
from tests.invoicing.test_rating_terms import MARCH, balance, flat, segment, used, world

D = Decimal


def parent_commit(amount="1000", *, from_parent=True, type="PREPAID", **more):
    return balance(
        "parent-commit",
        type=type,
        segments=more.pop("segments", None) or (segment(amount, id="ps"),),
        from_parent=from_parent,
        **more,
    )


def child(quantity, *balances):
    """A child's March invoice: `quantity` tokens at 1 each, its own balances, then the
    parent's shared commit."""
    return world(rates=(flat("tokens", "1"),), usage=(used("tokens", quantity),), balances=balances)


def drawn(result, balance_id="parent-commit"):
    return sum((d.drawn for d in result.balance_draws if d.balance_id == balance_id), start=D(0))


def test_two_children_share_a_parent_commit_in_the_order_given():
    """1,000 commit, child_access ALL; A uses 300, B 900: A draws 300, B draws 700 and pays
    200, the parent keeps 0."""
    (a, b), taken = rate_in_order(
        [child("300", parent_commit()), child("900", parent_commit())], rate_invoice
    )
    assert (drawn(a), a.total) == (D("300"), D("0"))
    assert (drawn(b), b.total) == (D("700"), D("200"))
    assert taken == {"ps": D("1000")}
    [draw] = b.balance_draws
    assert (draw.available, draw.drawn, draw.remaining) == (D("700"), D("700"), D("0"))
    applied = [line for line in b.lines if line.type == LineType.APPLIED_COMMIT_OR_CREDIT]
    assert [(line.total, line.balance_remaining) for line in applied] == [(D("-700"), D("0"))]


def test_the_parent_rated_last_sees_what_its_children_drew():
    """The parent's own 100 of usage, after A (300) and B (900): nothing is left for it."""
    parent = world(
        rates=(flat("tokens", "1"),),
        usage=(used("tokens", "100"),),
        balances=(parent_commit(from_parent=False),),
    )
    (_, _, p), _ = rate_in_order(
        [child("300", parent_commit()), child("900", parent_commit()), parent], rate_invoice
    )
    assert (drawn(p), p.total) == (D("0"), D("100"))
    [draw] = p.balance_draws
    assert (draw.available, draw.remaining) == (D("0"), D("0"))


def test_a_child_draws_its_own_credit_before_the_parent_commit():
    """Own credit 100 (priority 5, a later priority than the parent's 1): still first."""
    own = balance("own-credit", "100", priority="5")
    [a], taken = rate_in_order([child("300", parent_commit(), own)], rate_invoice)
    assert drawn(a, "own-credit") == D("100")
    assert drawn(a) == D("200")
    assert a.total == D("0")
    assert taken == {"s1": D("100"), "ps": D("200")}


def test_a_child_not_allowed_draws_nothing_of_the_parent():
    """CONTRACT_IDS naming only A: B's input has no parent balance (the selector leaves it
    out), so B pays its 900 and A draws 300."""
    access = {"type": "CONTRACT_IDS", "contract_ids": ["00000000-0000-0000-0000-00000000000a"]}
    assert child_may_draw(access, "00000000-0000-0000-0000-00000000000a")
    assert not child_may_draw(access, "00000000-0000-0000-0000-00000000000b")
    assert not child_may_draw({"type": "NONE"}, "00000000-0000-0000-0000-00000000000a")
    assert not child_may_draw(None, "00000000-0000-0000-0000-00000000000a")
    assert child_may_draw({"type": "ALL"}, "00000000-0000-0000-0000-00000000000b")
    (a, b), taken = rate_in_order([child("300", parent_commit()), child("900")], rate_invoice)
    assert (drawn(a), a.total) == (D("300"), D("0"))
    assert (drawn(b), b.total) == (D("0"), D("900"))
    assert taken == {"ps": D("300")}


def test_child_access_shapes():
    assert child_access_errors({"type": "ALL"}) is None
    assert child_access_errors({"type": "NONE"}) is None
    assert child_access_errors({"type": "CONTRACT_IDS", "contract_ids": []}) == (
        "child_access of type CONTRACT_IDS needs a list of contract_ids."
    )
    assert child_access_errors({"type": "ALL", "contract_ids": ["x"]}) == (
        "child_access of type ALL takes no other field."
    )
    assert child_access_errors({"type": "SOME"}) == (
        "Give child_access.type: ALL, NONE or CONTRACT_IDS."
    )


def test_a_child_never_trues_up_or_expires_the_parent_commit():
    """A POSTPAID parent commit ending with March, drawn 300 by a child: the child's invoice
    has no true-up line and its draw does not expire the rest (the parent's invoice does)."""
    ending = segment("1000", end=MARCH.ending_before, id="ps")
    postpaid = parent_commit(type="POSTPAID", segments=(ending,))
    result = rate_invoice(child("300", postpaid))
    assert not [line for line in result.lines if line.type == LineType.POSTPAID_TRUEUP]
    [draw] = result.balance_draws
    assert (draw.drawn, draw.remaining, draw.expires) == (D("300"), D("700"), False)
    parent = rate_invoice(
        world(
            rates=(flat("tokens", "1"),),
            balances=(parent_commit(type="POSTPAID", segments=(ending,), from_parent=False),),
        )
    )
    [trueup] = [line for line in parent.lines if line.type == LineType.POSTPAID_TRUEUP]
    assert trueup.total == D("1000")
    # Rated after the child, the parent's true-up is what neither drew: 1,000 - 300 = 700.
    own = parent_commit(type="POSTPAID", segments=(ending,), from_parent=False)
    (_, after_child), _ = rate_in_order(
        [child("300", postpaid), world(rates=(flat("tokens", "1"),), balances=(own,))],
        rate_invoice,
    )
    [trueup] = [line for line in after_child.lines if line.type == LineType.POSTPAID_TRUEUP]
    assert trueup.total == D("700")


@settings(max_examples=150, deadline=None)
@given(
    commit=st.integers(min_value=0, max_value=5000),
    demands=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=500)
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_what_children_draw_is_what_the_parent_commit_loses(commit, demands):
    """Whatever the usage and the children's own credits: the sum drawn from the parent's
    commit equals what it loses, never exceeds it, and equals the usage left after the
    children's own credits, up to the commit."""
    inputs = []
    for index, (quantity, own) in enumerate(demands):
        balances = [parent_commit(str(commit))]
        if own:
            balances.append(
                balance(f"own-{index}", str(own), segments=(segment(str(own), id=f"o{index}"),))
            )
        inputs.append(child(str(quantity), *balances))
    results, taken = rate_in_order(inputs, rate_invoice)
    total_drawn = sum((drawn(result) for result in results), start=D(0))
    left_after_own = sum((max(q - own, 0) for q, own in demands), start=0)
    assert total_drawn == taken.get("ps", D(0))
    assert total_drawn == min(D(commit), D(left_after_own))
    assert total_drawn <= D(commit)
    last = next(d for d in results[-1].balance_draws if d.balance_id == "parent-commit")
    assert last.remaining == D(commit) - total_drawn
    for result, (quantity, own) in zip(results, demands, strict=True):
        assert result.total == D(quantity) - drawn(result) - min(D(quantity), D(own))


def test_a_grandchild_draws_its_parents_balance_before_its_grandparents():
    """The grandparent's 1,000 (priority 1) and the parent's 200 (priority 9): a later priority
    but a nearer ancestor, so the parent's is drawn first; 500 of usage: 200, then 300."""
    grandparents = balance(
        "grandparent-commit",
        type="PREPAID",
        segments=(segment("1000", id="gs"),),
        priority="1",
        from_parent=True,
        ancestor_level=2,
    )
    parents = balance(
        "parent-commit",
        type="PREPAID",
        segments=(segment("200", id="ps"),),
        priority="9",
        from_parent=True,
        ancestor_level=1,
    )
    result = rate_invoice(child("500", grandparents, parents))
    assert (drawn(result), drawn(result, "grandparent-commit"), result.total) == (
        D("200"),
        D("300"),
        D("0"),
    )


def test_an_input_from_before_grandparents_reads_a_parents_balance_as_level_one():
    """A snapshot made before `ancestor_level` existed (from_parent only) keeps its order."""
    old = parent_commit("200", priority="9")
    grandparents = balance(
        "grandparent-commit",
        segments=(segment("1000", id="gs"),),
        priority="1",
        from_parent=True,
        ancestor_level=2,
    )
    result = rate_invoice(child("500", grandparents, old))
    assert (drawn(result), drawn(result, "grandparent-commit")) == (D("200"), D("300"))


@settings(max_examples=200, deadline=None)
@given(
    parents=st.integers(min_value=0, max_value=3000),
    grandparents=st.integers(min_value=0, max_value=3000),
    usage=st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=5),
)
def test_what_descendants_draw_from_two_levels_is_conserved(parents, grandparents, usage):
    """Invoices drawing a parent's and a grandparent's shared commit, one after the other:
    each commit loses exactly what was drawn from it, never more than it held, and the
    grandparent's is touched only once the parent's is empty for that invoice."""
    inputs = [
        child(
            str(quantity),
            parent_commit(str(parents), ancestor_level=1),
            balance(
                "grandparent-commit",
                type="PREPAID",
                segments=(segment(str(grandparents), id="gs"),),
                from_parent=True,
                ancestor_level=2,
            ),
        )
        for quantity in usage
    ]
    results, taken = rate_in_order(inputs, rate_invoice)
    from_parent = sum((drawn(r) for r in results), start=D(0))
    from_grandparent = sum((drawn(r, "grandparent-commit") for r in results), start=D(0))
    assert from_parent == taken.get("ps", D(0)) == min(D(parents), D(sum(usage)))
    assert from_grandparent == taken.get("gs", D(0))
    assert from_parent + from_grandparent == min(D(parents + grandparents), D(sum(usage)))
    for result in results:
        if drawn(result, "grandparent-commit"):
            parent_draw = next(d for d in result.balance_draws if d.balance_id == "parent-commit")
            assert parent_draw.remaining == 0
