"""Account hierarchies read upwards: a contract's ancestors (parent, grandparent, ...) and the
contract that pays its invoices (`payer`).

A child with `payer: PARENT` is paid for by its parent; if the parent is itself paid for by its
own parent, the charge goes on up: the payer is the nearest ancestor (or the contract itself)
that pays for itself. A hierarchy is at most a few levels deep (Metronome: up to 10 nodes), so
the chain is read one level per query, and only for contracts that have a parent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Contract


@dataclass(frozen=True)
class Payer:
    """The contract and customer that pay for a contract's invoices."""

    contract_id: object
    customer_id: object


def _chain_rows(contract_ids: Iterable) -> dict:
    """{contract pk: (parent pk | None, customer pk, payer)} for the contracts and every
    ancestor of theirs, one query per level."""
    rows: dict = {}
    pending = set(contract_ids)
    while pending:
        found = Contract.objects.filter(pk__in=pending).values_list(
            "pk", "parent_contract_id", "customer_id", "hierarchy_payer"
        )
        pending = set()
        for pk, parent, customer, payer in found:
            rows[pk] = (parent, customer, payer)
            if parent is not None and parent not in rows:
                pending.add(parent)
        pending -= set(rows)
    return rows


def contract_ancestors(*, contract_ids: Iterable) -> dict:
    """{contract pk: (parent pk, grandparent pk, ...)}, nearest first; () for a root."""
    rows = _chain_rows(contract_ids)
    result = {}
    for pk in contract_ids:
        chain = []
        parent = rows.get(pk, (None,))[0]
        while parent is not None and parent not in chain and parent != pk:
            chain.append(parent)
            parent = rows.get(parent, (None,))[0]
        result[pk] = tuple(chain)
    return result


def contract_payers(*, contract_ids: Iterable) -> dict:
    """{contract pk: Payer} for the given contracts that have a parent (a contract outside a
    hierarchy, or a root, pays for itself and is left out): the contract itself with payer SELF
    (or none given), else its parent's payer."""
    ids = set(contract_ids)
    children = set(
        Contract.objects.filter(pk__in=ids, parent_contract__isnull=False).values_list(
            "pk", flat=True
        )
    )
    if not children:
        return {}
    rows = _chain_rows(children)
    result = {}
    for pk in children:
        current, seen = pk, set()
        while rows[current][2] == Contract.Payer.PARENT and rows[current][0] is not None:
            seen.add(current)
            current = rows[current][0]
            if current in seen:  # a cycle (clean() refuses them): stop where it closes
                break
        result[pk] = Payer(contract_id=current, customer_id=rows[current][1])
    return result


def contract_descendants(*, contract_ids: Iterable) -> set:
    """The children, grandchildren... of these contracts. One query per level."""
    found: set = set()
    level = set(contract_ids)
    while level:
        level = (
            set(Contract.objects.filter(parent_contract_id__in=level).values_list("pk", flat=True))
            - found
        )
        found |= level
    return found
