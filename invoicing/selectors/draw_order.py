"""Balances several invoices may draw, in one order: a draft read, the balances list and
finalization give each invoice the same turn (`invoicing.rating.in_turn`).

A commit's or credit's segment may be drawn by a contract's successive periods, by every
contract of its customer (a customer-level commit or credit), by a parent contract and its
children (`child_access`; their customers may differ). `DraftsInOrder` loads the USAGE drafts of
some customers, closed over account hierarchies (the customer of a draft's parent or children
joins with all its drafts, and so on), split into groups that share no balance, each in the
draw order (`hierarchy.in_draw_order`): period start; in one period the deepest contracts'
invoices first (grandchildren, then children: `Contract.hierarchy_depth`), each depth's by
contract id, then the others by contract id. The drafts of a group are rated once each, one
after the other, each after what the ones before it took. An invoice's
turn: its segments as the ledger holds them (every finalized invoice's draws, whatever their
date), less what the drafts before it draw; at finalization, the segments ending in its period
that a draft after it may still draw are left for the last one to expire, and a POSTPAID commit
it trues up counts what the drafts after it draw. Every read (a draft's, a page of invoices,
finalization) loads the same drafts, those after the invoice included, so a draft shows the
true-up finalization makes.

A true-up is the commitment less ALL its draws, so it is not frozen on another draft's
estimate: an invoice truing up a POSTPAID commit that another draft may still draw is finalized
only after that draft or with it (`waits_for`; finalization of due invoices leaves it, a
finalization by hand is refused naming that draft). It waits on every draft that may draw
the commit, before or after it in the draw order. Two invoices each truing up a commit the
other draws wait on each other: by hand both are refused (finalizing the other along would
freeze its usage before it is due); when due they are frozen together, in one batch (a batch
whose true-ups wait for due drafts outside it takes them in: `invoices_finalize_due`).

Finalizing an invoice before one that draws ahead of it (a parent's by hand before its
children's, a contract's before the customer's other contract with a smaller id) does not
finalize that one (it may still be in its period or its grace period, and only the invoices
asked for change): it leaves what that draft draws now, and the ledger then holds exactly that
for it. So drafts show the split finalization makes, whatever the order invoices are finalized
in, and a finalized invoice never changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import F

from customers.models import Contract
from customers.selectors import contract_ancestors, contract_descendants
from invoicing.models import Invoice
from invoicing.rating import (
    RatingInput,
    RatingResult,
    add_taken,
    expiring_here,
    in_turn,
    less_taken,
    may_draw,
    postpaid_expiring_here,
    rate_invoice,
    trued_up_segments,
    with_later_draws,
)

from .contract_flags import any_holds, contract_of, invoices_with_contracts
from .hierarchy import in_draw_order
from .preload import RatingPreload, rating_input_for


def _draws(invoice: Invoice) -> bool:
    """Whether the draft's contract may have commits or credits (its flags say none: it draws
    nothing)."""
    contract = contract_of(invoice) or invoice.contract
    return any_holds([contract], "commits") or any_holds([contract], "credits")


class _Finder:
    """Union-find over customer ids: customers whose contracts may draw a common balance."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def root(self, item):
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, one, other) -> None:
        self.parent[self.root(one)] = self.root(other)


def _sharing_drafts(
    customer_ids: Iterable, until: datetime | None
) -> tuple[list[Invoice], _Finder]:
    """The USAGE drafts of the customers (starting by `until` when given), closed over
    account hierarchies (the customers of every contract of a draft's hierarchy join: its root's and the root's
    descendants', at any depth, whether or not they have a draft), in the draw order
    (`in_draw_order`), and which customers share balances. One query when no draft is in a
    hierarchy; else a few for the hierarchies' contracts and the drafts read again per round."""
    finder = _Finder()
    known = {uuid.UUID(str(value)) for value in customer_ids}
    seen: set = set()  # contracts whose hierarchy was read
    while True:
        for customer_id in known:
            finder.root(customer_id)
        found = Invoice.objects.filter(
            status=Invoice.Status.DRAFT, type=Invoice.Type.USAGE, customer_id__in=known
        )
        if until is not None:
            found = found.filter(start_timestamp__lte=until)
        drafts = list(
            in_draw_order(
                invoices_with_contracts(found).annotate(
                    parent_customer_id=F("contract__parent_contract__customer_id")
                )
            )
        )
        linked = set()
        for draft in drafts:
            if draft.parent_customer_id is not None:
                finder.join(draft.customer_id, draft.parent_customer_id)
                linked.add(draft.parent_customer_id)
        in_hierarchy = {
            d.contract_id
            for d in drafts
            if d.parent_customer_id is not None or d.contract_holds_children
        } - seen
        if in_hierarchy:
            for customer_id, parent_customer_id in _hierarchies(in_hierarchy, seen):
                if parent_customer_id is not None:
                    finder.join(customer_id, parent_customer_id)
                linked.add(customer_id)
        if linked <= known:
            return drafts, finder
        known |= linked


def _hierarchies(contract_ids: set, seen: set) -> list[tuple]:
    """(customer pk, its parent's customer pk | None) of every contract of the
    hierarchies holding `contract_ids` (their roots and the roots' descendants); the contracts
    read are added to `seen`."""
    ancestors = contract_ancestors(contract_ids=contract_ids)
    roots = {chain[-1] if chain else pk for pk, chain in ancestors.items()}
    members = roots | contract_descendants(contract_ids=roots)
    seen |= members
    return list(
        Contract.objects.filter(pk__in=members).values_list(
            "customer_id", "parent_contract__customer_id"
        )
    )


class DraftsInOrder:
    """The drafts that may share balances with those of `customer_ids`' contracts, rated in the
    draw order at `now` (see the module). `rated` ({invoice id: RatingResult}) holds drafts
    rated in their turn at this `now`, shared with `invoice_views` and `balances_now` so that a
    draft is rated once per request."""

    def __init__(
        self,
        *,
        customer_ids: Iterable,
        until: datetime | None,
        now: datetime | None,
        rated: dict | None = None,
    ):
        self.now = now
        self._rated = {} if rated is None else rated
        drafts, finder = _sharing_drafts(customer_ids, until)
        self._group_of = {d.pk: finder.root(d.customer_id) for d in drafts}
        self._groups: dict = {}
        for draft in drafts:
            self._groups.setdefault(self._group_of[draft.pk], []).append(draft)
        self._done: set = set()  # finalized meanwhile (their draws are in the ledger)
        self._taken: dict = {}  # group -> [{segment id: taken by its first n drafts}, n = 0...]
        self._preloads: dict = {}  # group -> RatingPreload of its drafts that may draw
        self._segments: dict = {}  # draft id -> the segment ids it may draw
        # Drafts truing up a POSTPAID commit rated for their draws only (not their turn).
        self._untrued: dict = {}

    def _input(self, group, draft: Invoice, *, usage: bool = True) -> RatingInput:
        preload = self._preloads.get(group)
        if preload is None:
            preload = self._preloads[group] = RatingPreload.for_invoices(
                [d for d in self._groups[group] if _draws(d)]
            )
        if not usage:
            return preload.rating_input(draft.contract_id, draft.start_timestamp, usage=False)
        return rating_input_for(invoice=draft, now=self.now, preload=preload)

    def _taken_through(self, group, stop: int) -> dict[str, Decimal]:
        """What the group's first `stop` drafts (but those finalized meanwhile) draw, each
        rated after what the ones before it took. The sums after each draft are kept (a page
        of invoices asks for several)."""
        sums = self._taken.setdefault(group, [{}])
        for draft in self._groups[group][len(sums) - 1 : stop]:
            taken = dict(sums[-1])
            if draft.pk not in self._done and _draws(draft):
                result = self._rated.get(draft.pk) or self._untrued.get(draft.pk)
                if result is None:
                    rating_input = less_taken(self._input(group, draft), taken)
                    result = rate_invoice(rating_input)
                    # A draft truing up a POSTPAID commit is not shown so: its true-up counts
                    # what the drafts after it draw (`turn`); only its draws are used here.
                    cache = self._untrued if trued_up_segments(rating_input) else self._rated
                    cache[draft.pk] = result
                add_taken(taken, result)
            sums.append(taken)
        return dict(sums[stop])

    def turn(self, invoice: Invoice, rating_input: RatingInput, *, final: bool = False):
        """The invoice's input in its turn: its segments less what the drafts before it draw;
        a POSTPAID commit it trues up counting what the drafts after it draw; `final`
        (finalization): the segments ending in its period that a draft after it (or, a POSTPAID
        commit's, before it) may still draw marked `drawn_later`. An invoice outside these drafts is left as it is."""
        group = self._group_of.get(invoice.pk)
        if not rating_input.balances or group is None:
            return rating_input
        drafts = self._groups[group]
        index = next(i for i, d in enumerate(drafts) if d.pk == invoice.pk)
        later: set[str] = set()
        trued = trued_up_segments(rating_input)
        last = index  # the last draft after it that may draw a commit it trues up
        if (final and expiring_here(rating_input)) or trued:
            for position in range(index + 1, len(drafts)):
                draft = drafts[position]
                if draft.pk not in self._done and _draws(draft):
                    segments = self._may_draw(group, draft)
                    later |= segments
                    if trued & segments:
                        last = position
        postpaid = postpaid_expiring_here(rating_input) if final else set()
        if postpaid:
            # A POSTPAID commit an open draft before it may still draw too (late usage): the
            # last one finalized ends it, whatever the order they are finalized in.
            for draft in drafts[:index]:
                if draft.pk not in self._done and _draws(draft):
                    later |= self._may_draw(group, draft) & postpaid
        turn = in_turn(
            rating_input,
            taken=self._taken_through(group, index),
            drawn_later=later if final else (),
        )
        if trued & later and last > index:
            # A POSTPAID commit it trues up that a draft after it draws too (in its last
            # period): the true-up counts what they draw after this one.
            # (The drafts after the last one drawing them do not change what they draw.)
            through = self._taken_through(group, index + 1)
            every = self._taken_through(group, last + 1)
            turn = with_later_draws(
                turn, {s: every[s] - through.get(s, Decimal(0)) for s in trued & set(every)}
            )
        return turn

    def waits_for(
        self, invoice: Invoice, rating_input: RatingInput, *, finalizing: Iterable = ()
    ) -> Invoice | None:
        """A draft (not finalized meanwhile, nor among `finalizing`: those frozen with the
        invoice, in the same transaction) that may still draw a POSTPAID commit the invoice
        trues up, the first in the draw order; None when there is none. The true-up is the
        commitment less ALL its draws: it is frozen only once no other invoice's draw of it is
        an estimate (see the module). Two invoices truing up commits the other draws wait on
        each other: they are frozen together (`waiting`; by hand both are refused)."""
        group = self._group_of.get(invoice.pk)
        trued = trued_up_segments(rating_input)
        if group is None or not trued:
            return None
        excluded = self._done | set(finalizing) | {invoice.pk}
        for draft in self._groups[group]:
            if draft.pk in excluded or not _draws(draft):
                continue
            if trued & self._may_draw(group, draft):
                return draft
        return None

    def waiting(self, invoice_ids: Iterable) -> dict:
        """{invoice id: the draft it waits for (`waits_for`)} of the drafts to be frozen
        together: each waits on drafts outside them and on those among them that wait (they
        stay drafts), to a fixed point (invoices waiting on each other, both among them, wait
        on none: they are frozen together)."""
        batch = set(invoice_ids)
        drafts = [
            (group, draft)
            for group, drafts in self._groups.items()
            for draft in drafts
            if len(drafts) > 1  # alone, it waits on nobody
            and draft.pk in batch
            and draft.pk not in self._done
            and _draws(draft)
        ]
        waits: dict = {}
        while True:
            found = {}
            for group, draft in drafts:
                if draft.pk in waits:
                    continue
                waited = self.waits_for(
                    draft, self._input(group, draft, usage=False), finalizing=batch - set(waits)
                )
                if waited is not None:
                    found[draft.pk] = waited
            if not found:
                return waits
            waits.update(found)

    def _may_draw(self, group, draft: Invoice) -> set[str]:
        """The segments the draft may draw (read once: they do not depend on the ledger)."""
        if draft.pk not in self._segments:
            self._segments[draft.pk] = may_draw(self._input(group, draft, usage=False))
        return self._segments[draft.pk]

    def rated_in_order(self) -> Iterator[tuple[Invoice, RatingResult]]:
        """Every draft that may draw a balance, with its rating in its turn, group by group."""
        for group, drafts in self._groups.items():
            self._taken_through(group, len(drafts))
            for draft in drafts:
                result = self._rated.get(draft.pk) or self._untrued.get(draft.pk)
                if result is not None and draft.pk not in self._done:
                    yield draft, result

    def alone(self, invoice: Invoice) -> bool:
        """Whether no other draft may draw a balance `invoice` draws (its ledger entries matter
        to no other draft's turn)."""
        group = self._group_of.get(invoice.pk)
        return group is None or len(self._groups[group]) <= 1

    def finalized(self, invoice: Invoice) -> None:
        """`invoice` was finalized in this transaction: its draws are in the ledger now, so the
        drafts of its group are rated again, from the ledger, without it."""
        self._done.add(invoice.pk)
        group = self._group_of.get(invoice.pk)
        if group is None:
            return
        self._taken.pop(group, None)
        for draft in self._groups[group]:
            self._rated.pop(draft.pk, None)
            self._untrued.pop(draft.pk, None)


def draft_turn(
    *,
    invoice: Invoice,
    rating_input: RatingInput,
    contract: Contract,
    now: datetime | None,
    drafts: DraftsInOrder | None = None,
) -> RatingInput:
    """A usage draft's input in its turn (`DraftsInOrder.turn`), as every read of a draft takes
    it (`contract`: the invoice's, loaded with its flags); others are left as they are. No query
    when no other draft may share its balances (`holds_shared_drafts`). `drafts`: those of a
    page of invoices, loaded once."""
    if (
        invoice.status != Invoice.Status.DRAFT
        or invoice.type != Invoice.Type.USAGE
        or not rating_input.balances
        or not any_holds([contract], "shared_drafts")
    ):
        return rating_input
    drafts = drafts or DraftsInOrder(customer_ids=[invoice.customer_id], until=None, now=now)
    return drafts.turn(invoice, rating_input)
