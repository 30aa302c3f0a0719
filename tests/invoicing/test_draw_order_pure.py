"""Balances several invoices draw, through the pure engine: each invoice in its turn
(`rating.in_turn`): the ledger's figure (finalized invoices' draws and expirations, whichever
came first), less what the unfinalized invoices before it in the draw order draw, and a segment a
later unfinalized invoice may still draw left for that one to expire. Golden cases to check by
hand, and a hypothesis property: whatever the usage and the order invoices are finalized in, the
split is the drafts' split, never more than a segment holds, and exactly what its ledger loses.

`finalize` below is what finalization does for one invoice (`invoicing.services._freeze` with
`selectors.draw_order.DraftsInOrder`), with a dict standing for the ledger."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.rating import (
    LineType,
    Period,
    RatingInput,
    in_turn,
    left_for_later,
    may_draw,
    rate_in_order,
    rate_invoice,
    trued_up_segments,
    with_later_draws,
)
from tests.invoicing.test_rating_terms import APR_1, JAN_1, MAR_1, balance, flat, segment, world

D = Decimal
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
FEBRUARY, MARCH = Period(FEB_1, MAR_1), Period(MAR_1, APR_1)
NEXT_YEAR = datetime(2027, 1, 1, tzinfo=UTC)


def invoice(quantity, *balances, period=MARCH) -> RatingInput:
    """One invoice of `period`: `quantity` tokens at 1 each, drawing `balances`."""
    usage = (
        dataclasses.replace(
            _used(quantity), starting_at=period.starting_at, ending_before=period.ending_before
        ),
    )
    return world(rates=(flat("tokens", "1"),), usage=usage, balances=balances, period=period)


def _used(quantity):
    from tests.invoicing.test_rating_terms import used

    return used("tokens", str(quantity))


def credit(amount="1000", *, end=NEXT_YEAR, start=JAN_1, id="credit", segment_id="s", **more):
    return balance(
        id, type="CREDIT", segments=(segment(amount, start, end, id=segment_id),), **more
    )


class Ledger:
    """What the ledger holds per segment: its amount less every finalized invoice's draws and
    expirations (`customers.selectors.segment_available`, clamped at zero for rating), and what
    finalized invoices drew from each POSTPAID commit (its `drawn_before`)."""

    def __init__(self, *inputs: RatingInput):
        self.held = {
            s.id: s.amount
            for rating_input in inputs
            for b in rating_input.balances
            for s in b.access_schedule
        }
        self.expired: dict[str, Decimal] = {}
        self.deducted: dict[str, Decimal] = {}

    def view(self, rating_input: RatingInput) -> RatingInput:
        """The input as `balances_for_rating` reads it from this ledger."""
        return dataclasses.replace(
            rating_input,
            balances=tuple(
                dataclasses.replace(
                    b,
                    drawn_before=self.deducted.get(b.id, D(0)) if b.type == "POSTPAID" else D(0),
                    access_schedule=tuple(
                        dataclasses.replace(s, available=max(self.held[s.id], D(0)))
                        for s in b.access_schedule
                    ),
                )
                for b in rating_input.balances
            ),
        )

    def record(self, result) -> None:
        """`customers.services.balance_ledger_record_draws`."""
        for draw in result.balance_draws:
            self.held[draw.segment_id] -= draw.drawn
            self.deducted[draw.balance_id] = self.deducted.get(draw.balance_id, D(0)) + draw.drawn
            if draw.expires and draw.remaining > 0:
                self.held[draw.segment_id] -= draw.remaining
                self.expired[draw.segment_id] = (
                    self.expired.get(draw.segment_id, D(0)) + draw.remaining
                )


def turn_of(inputs: list[RatingInput], index: int, ledger: Ledger, done: dict, *, final: bool):
    """`inputs[index]` (the inputs in the draw order; `done`: {index: result} of those finalized
    already) in its turn, as `DraftsInOrder.turn` gives it from the ledger and the drafts around
    it: a draft read (`final` False) or its finalization."""
    before = [ledger.view(inputs[i]) for i in range(index) if i not in done]
    after = [ledger.view(inputs[i]) for i in range(index + 1, len(inputs)) if i not in done]
    mine = ledger.view(inputs[index])
    _, taken = rate_in_order(before, rate_invoice)
    later = set().union(*(may_draw(other) for other in after))
    turn = in_turn(mine, taken=taken, drawn_later=later if final else ())
    if trued_up_segments(turn) & later:
        _, through = rate_in_order([*before, mine], rate_invoice)
        _, every = rate_in_order([*before, mine, *after], rate_invoice)
        turn = with_later_draws(turn, {s: every[s] - through.get(s, D(0)) for s in every})
    return turn


def finalize(inputs: list[RatingInput], index: int, ledger: Ledger, done: dict) -> None:
    """Finalize `inputs[index]`: its turn rated, its draws recorded."""
    result = rate_invoice(turn_of(inputs, index, ledger, done, final=True))
    ledger.record(result)
    done[index] = result


def drafts_of(inputs: list[RatingInput]) -> list:
    """What each draft shows before any is finalized (`invoice_view`)."""
    ledger = Ledger(*inputs)
    return [
        rate_invoice(turn_of(inputs, index, ledger, {}, final=False))
        for index in range(len(inputs))
    ]


def finalized_in(inputs: list[RatingInput], order) -> tuple[list, Ledger]:
    ledger, done = Ledger(*inputs), {}
    for index in order:
        finalize(inputs, index, ledger, done)
    return [done[index] for index in range(len(inputs))], ledger


def drawn(result, segment_id="s") -> Decimal:
    return sum((d.drawn for d in result.balance_draws if d.segment_id == segment_id), start=D(0))


def split(results, segment_id="s") -> list:
    return [(drawn(result, segment_id), result.total) for result in results]


# --- Golden cases ---------------------------------------------------------------------------------


def test_two_contracts_share_a_customer_credit_in_contract_order():
    """A 1,000 customer-level credit; March usage 700 on the first contract (the smaller id),
    600 on the second. The drafts: the first draws 700, the second 300 and pays 300. Finalized
    in either order, the same split; the credit holds 0."""
    first = invoice(700, credit(is_customer_level=True))
    second = invoice(600, credit(is_customer_level=True))
    drafts, taken = rate_in_order([first, second], rate_invoice)
    assert split(drafts) == [(D("700"), D("0")), (D("300"), D("300"))]
    assert taken == {"s": D("1000")}
    for order in ([0, 1], [1, 0]):
        results, ledger = finalized_in([first, second], order)
        assert split(results) == [(D("700"), D("0")), (D("300"), D("300"))]
        assert ledger.held == {"s": D("0")}


def test_a_second_contract_finalized_first_leaves_the_first_its_draw():
    """The second contract's invoice finalized first (by hand): its turn takes off the 700 the
    first contract's draft draws (a draft before it in the order), so it draws 300; the ledger
    then holds exactly 700 for the first."""
    first = invoice(700, credit(is_customer_level=True))
    second = invoice(600, credit(is_customer_level=True))
    ledger, done = Ledger(first, second), {}
    finalize([first, second], 1, ledger, done)
    assert (drawn(done[1]), done[1].total, ledger.held) == (D("300"), D("300"), {"s": D("700")})
    [draw] = done[1].balance_draws
    assert (draw.available, draw.remaining) == (D("300"), D("0"))


def test_an_older_unfinalized_draft_of_the_contract_draws_first():
    """A 1,000 commit; January's draft (not finalized yet, in its grace period) draws 800 of
    its 800 of usage; February's draft (500 of usage) finds 200: draws 200, pays 300. Finalizing
    February first (by hand) leaves January its 800."""
    commit = balance("commit", type="PREPAID", segments=(segment("1000", id="s"),))
    january = invoice(800, commit, period=Period(JAN_1, FEB_1))
    february = invoice(500, commit, period=FEBRUARY)
    drafts, _ = rate_in_order([january, february], rate_invoice)
    assert split(drafts) == [(D("800"), D("0")), (D("200"), D("300"))]
    for order in ([0, 1], [1, 0]):
        results, ledger = finalized_in([january, february], order)
        assert split(results) == [(D("800"), D("0")), (D("200"), D("300"))]
        assert ledger.held == {"s": D("0")}


def test_a_parent_finalized_before_its_children_leaves_them_what_their_drafts_draw():
    """A parent's 1,000 commit shared with its children, ending with March; child A uses 300,
    child B 500, the parent 100 (the order: A, B, then the parent). The drafts: 300, 500, 100,
    and the parent's invoice expires the 100 left. The parent finalized by hand first: it
    draws 100 and expires 100, leaving 800 for the children's drafts; they draw it."""
    ending = segment("1000", JAN_1, APR_1, id="s")
    shared = balance("parent-commit", type="PREPAID", segments=(ending,), from_parent=True)
    own = dataclasses.replace(shared, from_parent=False)
    inputs = [invoice(300, shared), invoice(500, shared), invoice(100, own)]
    drafts, _ = rate_in_order(inputs, rate_invoice)
    assert split(drafts) == [(D("300"), D("0")), (D("500"), D("0")), (D("100"), D("0"))]
    ledger, done = Ledger(*inputs), {}
    finalize(inputs, 2, ledger, done)
    [parent] = done[2].balance_draws
    assert (parent.available, parent.drawn, parent.remaining, parent.expires) == (
        D("200"),
        D("100"),
        D("100"),
        True,
    )
    assert ledger.held == {"s": D("800")}
    finalize(inputs, 0, ledger, done)
    finalize(inputs, 1, ledger, done)
    assert split([done[0], done[1], done[2]]) == split(drafts)
    assert (ledger.held, ledger.expired) == ({"s": D("0")}, {"s": D("100")})


def test_the_last_invoice_in_the_order_expires_a_shared_credit():
    """A 1,000 customer credit ending with March; the first contract uses 300, the second 200.
    Finalized in order, the first leaves the credit to the second (`drawn_later`), which
    expires the 500 left. Finalized the other way round, the second (last in the order, with
    the first's 300 reserved) expires 500 and the first then draws its 300."""
    shared = credit(end=APR_1, is_customer_level=True)
    first, second = invoice(300, shared), invoice(200, shared)
    ledger, done = Ledger(first, second), {}
    finalize([first, second], 0, ledger, done)
    [draw] = done[0].balance_draws
    assert (draw.drawn, draw.remaining, draw.expires) == (D("300"), D("700"), False)
    finalize([first, second], 1, ledger, done)
    [draw] = done[1].balance_draws
    assert (draw.available, draw.drawn, draw.remaining, draw.expires) == (
        D("700"),
        D("200"),
        D("500"),
        True,
    )
    assert (ledger.held, ledger.expired) == ({"s": D("0")}, {"s": D("500")})
    results, ledger = finalized_in([first, second], [1, 0])
    assert split(results) == [(D("300"), D("0")), (D("200"), D("0"))]
    assert (ledger.held, ledger.expired) == ({"s": D("0")}, {"s": D("500")})


def test_a_segment_is_left_for_later_only_if_a_later_invoice_may_draw_it():
    """`left_for_later` marks a segment ending in the period that a later invoice may draw (has
    in its period: `may_draw`); one that ends later, or that no later invoice holds, is not."""
    ending = credit(end=APR_1, segment_id="ending")
    lasting = credit(id="lasting", segment_id="lasting")
    other = credit(end=APR_1, id="other", segment_id="other")
    later = may_draw(invoice(5, ending, lasting)) | may_draw(invoice(5))
    assert later == {"ending", "lasting"}
    marked = left_for_later(invoice(10, ending, lasting, other), later)
    assert {s.id: s.drawn_later for b in marked.balances for s in b.access_schedule} == {
        "ending": True,
        "lasting": False,
        "other": False,
    }


def test_a_reservation_is_what_the_draft_drew_when_the_later_one_was_finalized():
    """The second contract finalized first reserves the 700 the first's draft drew then; 200 of
    late usage on the first afterwards find the ledger holding 700: it draws 700 and pays 200.
    The credit never gives more than its 1,000."""
    first = invoice(700, credit(is_customer_level=True))
    second = invoice(600, credit(is_customer_level=True))
    ledger, done = Ledger(first, second), {}
    finalize([first, second], 1, ledger, done)
    later = [invoice(900, credit(is_customer_level=True)), second]
    finalize(later, 0, ledger, done)
    assert split([done[0], done[1]]) == [(D("700"), D("200")), (D("300"), D("300"))]
    assert ledger.held == {"s": D("0")}


def test_a_customer_postpaid_commit_is_trued_up_once_by_the_contract_invoicing_it():
    """A 1,000 POSTPAID customer-level commit for March; the first contract uses 300, the
    second 200 (postpaid: drawn, and paid on the invoice). Invoiced by the second contract: its
    invoice trues up 1,000 - 300 - 200 = 500, the first's none. Invoiced by the first (before
    the second in the order): its true-up counts the 200 the second's draft draws after it,
    500 again. Whatever the order they are finalized in."""
    march = segment("1000", MAR_1, APR_1, id="s")
    for invoicer in (0, 1):
        inputs = [
            invoice(
                quantity,
                balance(
                    "postpaid",
                    type="POSTPAID",
                    segments=(march,),
                    is_customer_level=True,
                    invoiced_here=index == invoicer,
                ),
            )
            for index, quantity in enumerate((300, 200))
        ]
        trued = [D("0"), D("0")]
        trued[invoicer] = D("500")
        for results in (drafts_of(inputs), *(finalized_in(inputs, o)[0] for o in ([0, 1], [1, 0]))):
            assert [drawn(r) for r in results] == [D("300"), D("200")]
            assert [_trued_up(r) for r in results] == trued
            assert [r.total for r in results] == [D("300") + trued[0], D("200") + trued[1]]


def _trued_up(result) -> Decimal:
    return sum(
        (line.total for line in result.lines if line.type == LineType.POSTPAID_TRUEUP),
        start=D(0),
    )


def _lines(result) -> list:
    return [dataclasses.replace(line, balance_remaining=None) for line in result.lines]


def _draws(result) -> list:
    return [(d.segment_id, d.drawn) for d in result.balance_draws]


# --- The property ---------------------------------------------------------------------------------

SLOTS = [(MARCH, 0), (MARCH, 1), (MARCH, 2), (Period(JAN_1, FEB_1), 0), (FEBRUARY, 1)]


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=3000),
    kind=st.sampled_from(["CREDIT", "POSTPAID"]),
    ends_in_march=st.booleans(),
    extra=st.integers(min_value=0, max_value=800),
    invoices=st.lists(
        st.tuples(
            st.sampled_from(range(len(SLOTS))),
            st.integers(0, 1500),
            st.sampled_from([None, "0", "2"]),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda item: item[0],
    ),
    data=st.data(),
)
def test_any_finalization_order_makes_the_drafts_split(
    amount, kind, ends_in_march, extra, invoices, data
):
    """Invoices of several contracts and months sharing one customer-level balance (a credit,
    or a POSTPAID commit contract 1 invoices; ending with March or next year), some with a
    credit of their own drawn before or after it: whatever the usage and the order they are
    finalized in, each draws and charges what its draft showed; the draws never exceed the
    balance and equal what its ledger loses besides one expiry of what is left; a POSTPAID
    commit is trued up once, by contract 1, for what nobody drew."""
    end = APR_1 if ends_in_march else NEXT_YEAR
    slots = sorted(invoices, key=lambda item: (SLOTS[item[0]][0].starting_at, SLOTS[item[0]][1]))
    inputs = []
    for slot, quantity, own in slots:
        period, contract = SLOTS[slot]
        shared = credit(str(amount), end=end, is_customer_level=True)
        if kind == "POSTPAID":
            shared = dataclasses.replace(shared, type="POSTPAID", invoiced_here=contract == 1)
        balances = [shared]
        if own:  # the contract's own credit (its months share it), before or after the shared
            balances.append(
                credit(str(extra), id=f"own-{contract}", segment_id=f"own-{contract}", priority=own)
            )
        inputs.append(invoice(quantity, *balances, period=period))
    drafts = drafts_of(inputs)
    order = data.draw(st.permutations(range(len(inputs))))
    results, ledger = finalized_in(inputs, order)

    # The same lines and draws (what a line says is left may differ: a draft read before the
    # invoices after it were finalized does not count what they drew).
    assert [_lines(r) for r in results] == [_lines(r) for r in drafts]
    assert [_draws(r) for r in results] == [_draws(r) for r in drafts]
    assert [r.total for r in results] == [r.total for r in drafts]
    total = sum((drawn(r) for r in results), start=D(0))
    _, taken = rate_in_order(inputs, rate_invoice)
    assert total == taken.get("s", D(0)) <= D(amount)
    assert D(amount) - ledger.held["s"] == total + ledger.expired.get("s", D(0))
    assert ledger.held["s"] >= 0
    in_march = [SLOTS[slot] for slot, _, _ in slots if SLOTS[slot][0] == MARCH]
    if ends_in_march and in_march:
        # Expired once, by whichever invoice was finalized last among March's, with what is left.
        assert ledger.held["s"] == 0
        assert ledger.expired.get("s", D(0)) == D(amount) - total
    trued_up = [
        line.total for r in results for line in r.lines if line.type == LineType.POSTPAID_TRUEUP
    ]
    if kind == "POSTPAID" and ends_in_march and (MARCH, 1) in in_march:
        assert trued_up == ([D(amount) - total] if total < D(amount) else [])
    else:
        assert trued_up == []
