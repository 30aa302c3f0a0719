"""Reads of commits and credits: what each segment holds, the ledger, balances for rating and
for the API."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    prefetch_related_objects,
)

from ..hierarchy import child_may_draw
from ..models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    CommitInvoiceItem,
    Contract,
    Credit,
    Customer,
    PaymentGate,
    RecurringBalance,
)
from .hierarchy import contract_ancestors
from .ledger import LedgerRows, ledger_rows, segment_available

LEDGER = BalanceLedgerEntry.Type
AUTOMATED = (
    LEDGER.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    LEDGER.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    LEDGER.CREDIT_AUTOMATED_INVOICE_DEDUCTION,
    LEDGER.PREPAID_COMMIT_EXPIRATION,
    LEDGER.CREDIT_EXPIRATION,
    LEDGER.POSTPAID_COMMIT_TRUEUP,
)
BALANCE_PREFETCH = (
    "access_schedule",
    "applicable_products",
    "applicable_contracts",
    "product",
    "credit_type",
)


def _applicable(queryset, contract: Contract):
    """The contract's own terms, and its customer's customer-level ones that apply to it (no
    applicable contracts = every contract) or that it invoices."""
    model = queryset.model
    listed = model.applicable_contracts.through.objects.filter(
        **{f"{model._meta.model_name}_id": OuterRef("pk")}
    )
    customer_level = Q(contract__isnull=True, customer_id=contract.customer_id) & (
        ~Exists(listed) | Q(applicable_contracts=contract)
    )
    if model is Commit:
        customer_level |= Q(contract__isnull=True, invoice_contract=contract)
    scope = Q(contract=contract) | customer_level
    ancestors = _ancestors(contract)
    if ancestors:
        scope |= Q(contract_id__in=ancestors, child_access__isnull=False)
    found = queryset.filter(scope).distinct()
    return [term for term in found if _applies_to(term, contract, listed_checked=True)]


def _segments(term) -> list[AccessSegment]:
    """The term's access schedule: as `balance_terms_many` loaded it, or its prefetch."""
    loaded = getattr(term, "loaded_segments", None)
    return loaded if loaded is not None else list(term.access_schedule.all())


def _in_period(term, start: datetime, end: datetime) -> bool:
    if any(s.starting_at < end and s.ending_before > start for s in _segments(term)):
        return True
    items = term.invoice_schedule.all() if isinstance(term, Commit) else ()
    return any(start <= item.timestamp < end for item in items)


def balances_for_rating(*, contract: Contract, period) -> list[dict]:
    """The commits and credits that may apply to one invoice of `contract`, as plain data.

    `period`: anything with `starting_at` / `ending_before` (e.g. `invoicing.rating.Period`) or a
    (start, end) tuple. Included: the contract's own and the customer's customer-level commits
    and credits that apply to it (or, for commits, that it invoices), not archived, with an
    access segment overlapping the period or an invoice schedule item due in it. One dict per
    balance, in a stable order (contract-level first, then created_at, id):

        {
            "id": str, "type": "PREPAID" | "POSTPAID" | "CREDIT", "product_id": str,
            "name": str | None, "priority": Decimal, "rate_type": "LIST_RATE" | "COMMIT_RATE",
            "access_type": "SPEND" | "QUANTITY",  # QUANTITY: segment amounts are units
            "is_rollover": bool,  # made by a contract transition (drawn first, never invoiced)
            "applicable_product_ids": tuple[str, ...], "applicable_product_tags": tuple[str, ...],
            "specifiers": tuple[{"product_id"?: str, "product_tags"?: [str],
                                 "pricing_group_values"?: {str: str},
                                 "presentation_group_values"?: {str: str}}, ...],
            "is_customer_level": bool, "credit_type_id": str,   # the fiat id too (engine: _unit)
            "invoiced_here": bool,  # this contract invoices (and trues up) the commit
            "invoice_schedule": tuple[{"id": str, "timestamp": datetime, "unit_price": Decimal,
                                       "quantity": Decimal}, ...],  # only when this contract
                                       # invoices the commit (its own, or its invoice_contract)
            "drawn_before": Decimal,  # POSTPAID: -(deductions of invoices not voided), else 0
            "access_schedule": tuple[{"id": str, "starting_at": datetime,
                                      "ending_before": datetime, "amount": Decimal,
                                      "available": Decimal}, ...],  # every segment, in order
        }

    Each maps field for field onto `rating.Balance` / `rating.AccessSegment` /
    `rating.InvoiceScheduleItem`. `available` is `segment_available` (every entry, whatever its
    date) clamped at zero: it does NOT subtract what unfinalized invoices draw (invoicing's
    draw order takes off what those before this one draw).
    """
    start, end = _period_bounds(period)
    terms = []
    for model, extra in ((Commit, ("invoice_schedule",)), (Credit, ())):
        # Only what the dicts read (ids of product and unit come with the row).
        queryset = model.objects.filter(archived_at__isnull=True).prefetch_related(
            "access_schedule", "applicable_products", *extra
        )
        if model is Commit:
            queryset = queryset.select_related("payment_gate")
        terms += [t for t in _applicable(queryset, contract) if _in_period(t, start, end)]
    terms.sort(key=lambda t: (t.contract_id is None, t.created_at, str(t.pk)))
    if not terms:
        return []
    return _rating_dicts(terms, contract=contract)


def _rating_dicts(
    terms: list, *, contract: Contract, ledger: LedgerRows | None = None
) -> list[dict]:
    """`balances_for_rating`'s dicts of `terms` (already selected and ordered), with what the
    ledger says is available (from `ledger` when it covers their segments, else read in one
    query)."""
    segments = [s for t in terms for s in _segments(t)]
    postpaid = [t for t in terms if t.type == Commit.Type.POSTPAID]
    if ledger is None or not ledger.covers(segments=segments, commits=[t.pk for t in postpaid]):
        ledger = ledger_rows(segments=segments, commits=[t.pk for t in postpaid])
    # Every entry counts, whatever its date: a segment several invoices may draw (a later
    # period's, another contract's of this period: a customer-level or a parent's balance) may
    # have been drawn by one finalized before this one, and a finalized invoice never changes.
    available = ledger.available(segments=segments)
    drawn = ledger.postpaid_drawn(commits=postpaid)
    seat_keys = {}
    if any(term.seat_id for term in terms):
        seat_keys = dict(
            RecurringBalance.objects.filter(
                pk__in={term.recurring_id for term in terms if term.seat_id}
            ).values_list("pk", "subscription__seat_group_key")
        )
    result = []
    for term in terms:
        invoices_here = term.contract_id == contract.pk or (
            isinstance(term, Commit) and term.invoice_contract_id == contract.pk
        )
        items = term.invoice_schedule.all() if isinstance(term, Commit) and invoices_here else ()
        result.append(
            {
                "id": str(term.pk),
                "type": term.type,
                "product_id": str(term.product_id),
                "name": term.name or None,
                "priority": term.priority,
                "rate_type": term.rate_type,
                "access_type": term.access_type,
                "applicable_product_ids": tuple(str(p.pk) for p in term.applicable_products.all()),
                "applicable_product_tags": tuple(term.applicable_product_tags or ()),
                "specifiers": tuple(term.specifiers or ()),
                "is_customer_level": term.contract_id is None,
                "from_parent": term.contract_id is not None and term.contract_id != contract.pk,
                "invoiced_here": invoices_here,
                "ancestor_level": ancestor_level(term, contract),
                "is_rollover": term.rolled_over_from_id is not None,
                "credit_type_id": str(term.credit_type_id),
                "invoice_schedule": tuple(
                    {
                        "id": str(item.pk),
                        "timestamp": item.timestamp,
                        "unit_price": item.amount if item.amount is not None else item.unit_price,
                        "quantity": Decimal(1) if item.amount is not None else item.quantity,
                    }
                    for item in items
                ),
                "drawn_before": -(drawn.get(term.pk) or Decimal(0)),
                **_purchase_tax(term),
                # A per-seat balance: {seat group key: seat id}; only that seat's usage draws it.
                "seat": {seat_keys.get(term.recurring_id) or "": term.seat_id}
                if term.seat_id
                else {},
                "access_schedule": tuple(
                    {
                        "id": str(s.pk),
                        "starting_at": s.starting_at,
                        "ending_before": s.ending_before,
                        "amount": s.amount,
                        "available": max(available[s.pk], Decimal(0)),
                    }
                    for s in _segments(term)
                ),
            }
        )
    return result


def _purchase_tax(term) -> dict:
    """A payment-gated commit's PRECALCULATED tax, invoiced with its purchase (the gate comes
    with the commit's row: `select_related("payment_gate")`)."""
    if not isinstance(term, Commit):
        return {}
    try:
        gate = term.payment_gate
    except PaymentGate.DoesNotExist:
        return {}
    tax = gate.precalculated_tax
    if gate.tax_type != "PRECALCULATED" or not tax:
        return {}
    return {
        "purchase_tax_amount": Decimal(tax["tax_amount"]),
        "purchase_tax_name": tax.get("tax_name") or None,
    }


def _period_bounds(period) -> tuple[datetime, datetime]:
    if isinstance(period, tuple):
        return period
    return period.starting_at, period.ending_before


def _ancestors(contract: Contract) -> tuple:
    """The contract's parent, grandparent, ... (nearest first): kept on the object, read once
    (`balance_terms_many` reads them for a batch)."""
    if contract.parent_contract_id is None:
        return ()
    known = getattr(contract, "_hierarchy_ancestors", None)
    if known is None:
        known = contract_ancestors(contract_ids=[contract.pk])[contract.pk]
        contract._hierarchy_ancestors = known
    return known


def ancestor_level(term, contract: Contract) -> int:
    """1 for a commit or credit of the contract's parent that the contract may draw (its
    `child_access` lets it: account hierarchy), 2 for its grandparent's, ...; 0 otherwise. A
    balance shared with ALL children is shared with their descendants too; CONTRACT_IDS lets
    the contracts it lists draw it, at any depth."""
    if term.contract_id is None or contract.parent_contract_id is None:
        return 0
    ancestors = _ancestors(contract)
    if term.contract_id not in ancestors or not child_may_draw(term.child_access, contract.pk):
        return 0
    return ancestors.index(term.contract_id) + 1


def _applies_to(term, contract: Contract, *, listed_checked: bool = False) -> bool:
    """`_applicable` in Python, for terms loaded for a batch of contracts (applicable_contracts
    prefetched; `listed_checked`: the query checked them already)."""
    if term.contract_id is not None:
        return term.contract_id == contract.pk or ancestor_level(term, contract) > 0
    if listed_checked:
        return True
    if isinstance(term, Commit) and term.invoice_contract_id == contract.pk:
        return True
    if term.customer_id != contract.customer_id:
        return False
    listed = term.applicable_contracts.all()
    return not listed or any(c.pk == contract.pk for c in listed)


def _present(model, name: str) -> Exists:
    """Whether a term has rows in its relation `name` (many-to-many or reverse foreign key)."""
    field = model._meta.get_field(name)
    if field.many_to_many:
        rows = field.remote_field.through.objects.filter(**{field.m2m_field_name(): OuterRef("pk")})
    else:
        rows = field.related_model.objects.filter(**{field.field.name: OuterRef("pk")})
    return Exists(rows)


def _prefetch_present(terms: list, names: Iterable[str]) -> None:
    """Each relation prefetched for the terms whose `present_<name>` says it has rows; the
    others get it empty without a query (most terms list no products, contracts or schedule)."""
    for name in names:
        present = [t for t in terms if getattr(t, f"present_{name}")]
        absent = [t for t in terms if not getattr(t, f"present_{name}")]
        related = type(terms[0])._meta.get_field(name).related_model
        rows = related.objects.only("id") if related is Contract else related.objects.all()
        prefetch_related_objects(present, Prefetch(name, queryset=rows))
        prefetch_related_objects(absent, Prefetch(name, queryset=related.objects.none()))


def _load_segments(terms: list) -> None:
    """Each commit's and credit's `loaded_segments` (by start), in one query for both kinds."""
    if not terms:
        return
    commits = [t.pk for t in terms if isinstance(t, Commit)]
    credits = [t.pk for t in terms if not isinstance(t, Commit)]
    by_owner: dict = defaultdict(list)
    for segment in AccessSegment.objects.filter(
        Q(commit_id__in=commits) | Q(credit_id__in=credits)
    ).order_by("starting_at", "id"):
        by_owner[segment.commit_id or segment.credit_id].append(segment)
    for term in terms:
        term.loaded_segments = by_owner[term.pk]


def balance_terms_many(
    *, contracts: Iterable[Contract], commits: bool = True, credits: bool = True
) -> dict:
    """{contract pk: [Commit | Credit]}: the live commits and credits that may apply to each
    contract (its own, its customer's customer-level ones that apply to it, the customer-level
    commits it invoices), whatever their dates, in `balances_for_rating`'s order. A query for
    the commits and one for the credits (none for those the caller knows there are none of:
    `commits` / `credits` False), one for their segments and, only for terms that have them,
    their applicable products, contracts and invoice schedule, whatever the number of
    contracts. `balances_from_terms` turns one contract's list into `balances_for_rating`'s
    dicts for a period."""
    contracts = list(contracts)
    result: dict = {c.pk: [] for c in contracts}
    if not contracts:
        return result
    contract_ids = {c.pk for c in contracts}
    customer_ids = {c.customer_id for c in contracts}
    children = [c for c in contracts if c.parent_contract_id is not None]
    ancestry = contract_ancestors(contract_ids=[c.pk for c in children]) if children else {}
    for contract in children:
        contract._hierarchy_ancestors = ancestry[contract.pk]
    ancestor_ids = {pk for chain in ancestry.values() for pk in chain}
    terms: list = []
    for model, extra, wanted in (
        (Commit, ("invoice_schedule",), commits),
        (Credit, (), credits),
    ):
        if not wanted:
            continue
        scope = Q(contract_id__in=contract_ids) | Q(
            contract__isnull=True, customer_id__in=customer_ids
        )
        if model is Commit:
            scope |= Q(contract__isnull=True, invoice_contract_id__in=contract_ids)
        if ancestor_ids:
            scope |= Q(contract_id__in=ancestor_ids, child_access__isnull=False)
        relations = ("applicable_products", "applicable_contracts", *extra)
        found = list(
            model.objects.filter(archived_at__isnull=True)
            .select_related(*(("payment_gate",) if model is Commit else ()))
            .filter(scope)
            .annotate(**{f"present_{name}": _present(model, name) for name in relations})
        )
        if found:
            _prefetch_present(found, relations)
        terms += found
    _load_segments(terms)
    terms.sort(key=lambda t: (t.contract_id is None, t.created_at, str(t.pk)))
    for contract in contracts:
        result[contract.pk] = [t for t in terms if _applies_to(t, contract)]
    return result


def balances_from_terms(
    *, contract: Contract, terms: Iterable, period, ledger: LedgerRows | None = None
) -> list[dict]:
    """`balances_for_rating(contract=contract, period=period)` from the contract's terms as
    `balance_terms_many` gives them: keeps those in the period and reads the ledger now (one
    query; none when no term is in the period, or when `ledger` holds their rows already)."""
    start, end = _period_bounds(period)
    terms = [t for t in terms if _in_period(t, start, end)]
    if not terms:
        return []
    return _rating_dicts(terms, contract=contract, ledger=ledger)


def balances_for_rating_many(*, contracts: Iterable[Contract], period_by_contract: dict) -> dict:
    """{contract pk: `balances_for_rating(contract=..., period=period_by_contract[pk])`} for many
    contracts in a fixed number of queries for the terms (plus the ledger reads of the contracts
    that have balances in their period)."""
    contracts = list(contracts)
    terms = balance_terms_many(contracts=contracts)
    return {
        c.pk: balances_from_terms(contract=c, terms=terms[c.pk], period=period_by_contract[c.pk])
        for c in contracts
    }


ROLLOVER_TYPES = {
    Commit.Type.PREPAID: LEDGER.PREPAID_COMMIT_ROLLOVER,
    Commit.Type.POSTPAID: LEDGER.POSTPAID_COMMIT_ROLLOVER,
    "CREDIT": LEDGER.CREDIT_ROLLOVER,
}


def balance_ledger(*, balance: Commit | Credit) -> list[dict]:
    """The ledger of one commit or credit for display, oldest first: each segment's start (or a
    postpaid commit's initial balance; for a rollover balance, a `*_ROLLOVER` row: what it
    received from the earlier contract), then the stored entries. Live draft draws are not here
    (invoicing adds them). Each: {"type", "amount" (signed Decimal), "timestamp", "segment_id"
    (UUID | None), "invoice_id" (UUID | None), "contract_id" (UUID | None), "reason" (str),
    "new_contract_id" (UUID | None: the contract a `*_ROLLOVER` row rolled over to)}."""
    rows = []
    postpaid = balance.type == Commit.Type.POSTPAID
    start_type = (
        ROLLOVER_TYPES[balance.type]
        if balance.is_rollover
        else LEDGER.POSTPAID_COMMIT_INITIAL_BALANCE
        if postpaid
        else LEDGER.CREDIT_SEGMENT_START
        if isinstance(balance, Credit)
        else LEDGER.PREPAID_COMMIT_SEGMENT_START
    )
    for segment in balance.access_schedule.all():
        rows.append(
            {
                "type": start_type,
                "amount": segment.amount,
                "timestamp": segment.starting_at,
                "segment_id": segment.pk,
                "invoice_id": None,
                "contract_id": None,
                "reason": "",
                "new_contract_id": balance.contract_id if balance.is_rollover else None,
            }
        )
    for entry in balance.ledger_entries.all():
        rolled = entry.type in ROLLOVER_TYPES.values()  # its contract: where it rolled over to
        rows.append(
            {
                "type": entry.type,
                "amount": entry.amount,
                "timestamp": entry.timestamp,
                "segment_id": entry.segment_id,
                "invoice_id": entry.invoice_id,
                "contract_id": None if rolled else entry.contract_id,
                "reason": entry.reason,
                "new_contract_id": entry.contract_id if rolled else None,
            }
        )
    rows.sort(key=lambda row: (row["timestamp"], row["type"] not in (start_type,)))
    return rows


def _drawn(draft_draws: Mapping | None, segment) -> Decimal:
    """What drafts draw from a segment: `draft_draws` is keyed by segment id or its text."""
    if not draft_draws:
        return Decimal(0)
    return Decimal(draft_draws.get(segment.pk, draft_draws.get(str(segment.pk), 0)))


def balances_now(
    *, balances: Iterable[Commit | Credit], now: datetime, draft_draws: Mapping | None = None
) -> dict:
    """{balance id: Decimal}: what each balance holds at `now` (Metronome's `balance`): the
    available amount of its segments active at `now` (expired and upcoming count 0), minus what
    current drafts draw (`draft_draws`, {segment id: amount}: invoicing's
    `draft_balance_draws`; `invoicing.selectors.balances_now` passes them); never below zero."""
    balances = list(balances)
    active = [
        s
        for term in balances
        for s in term.access_schedule.all()
        if s.starting_at <= now < s.ending_before
    ]
    available = segment_available(segments=active)
    held = defaultdict(Decimal)
    for s in active:
        owner = s.commit_id or s.credit_id
        held[owner] += available[s.pk] - _drawn(draft_draws, s)
    return {term.pk: max(held[term.pk], Decimal(0)) for term in balances}


def segments_left_at(
    *, balances: Iterable[Commit | Credit], at: datetime, draft_draws: Mapping | None
) -> dict:
    """{segment id: Decimal}: what each segment of `balances` not yet expired at `at` (ending
    after it; upcoming ones too) still holds for use: its amount, plus every ledger entry, minus
    what current drafts draw from it (`draft_draws`, as `balances_now` counts them); never below
    zero. What a contract transition at `at` rolls over."""
    balances = list(balances)
    segments = [s for term in balances for s in term.access_schedule.all() if s.ending_before > at]
    if not segments:
        return {}
    available = segment_available(segments=segments)
    return {s.pk: max(available[s.pk] - _drawn(draft_draws, s), Decimal(0)) for s in segments}


def customer_balances(
    *,
    customer: Customer,
    kinds: Iterable[str] = ("commit", "credit"),
    include_contract_balances: bool = False,
    include_archived: bool = False,
    covering_date: datetime | None = None,
    starting_at: datetime | None = None,
    effective_before: datetime | None = None,
    balance_id=None,
    access_type: str | None = None,
) -> dict[str, QuerySet]:
    """The customer's commits and/or credits for the balance lists: customer-level ones, and
    with `include_contract_balances` the contracts' too; date filters on the access schedule;
    `access_type` SPEND or QUANTITY (None: both)."""
    result = {}
    for kind in kinds:
        model = Commit if kind == "commit" else Credit
        queryset = model.objects.filter(customer=customer).select_related(
            "product", "credit_type", "contract", "recurring"
        )
        queryset = queryset.prefetch_related(
            "access_schedule",
            "applicable_products",
            "applicable_contracts",
            "ledger_entries",
            "rolled_over_from",
            *(("invoice_schedule",) if model is Commit else ()),
        )
        if not include_contract_balances:
            queryset = queryset.filter(contract__isnull=True)
        if not include_archived:
            queryset = queryset.filter(archived_at__isnull=True).filter(
                Q(contract__isnull=True) | Q(contract__archived_at__isnull=True)
            )
        if balance_id is not None:
            queryset = queryset.filter(pk=balance_id)
        if access_type is not None:
            queryset = queryset.filter(access_type=access_type)
        segments = AccessSegment.objects.filter(**{kind: OuterRef("pk")})
        if covering_date is not None:
            queryset = queryset.filter(
                Exists(
                    segments.filter(starting_at__lte=covering_date, ending_before__gt=covering_date)
                )
            )
        if starting_at is not None:
            queryset = queryset.filter(Exists(segments.filter(ending_before__gt=starting_at)))
        if effective_before is not None:
            queryset = queryset.filter(Exists(segments.filter(starting_at__lt=effective_before)))
        result[kind] = queryset
    return result


# --- What revenue recognition reads -------------------------------------------------------------------


@dataclass(frozen=True)
class CommitExpiration:
    """A prepaid commit's access segment that ended with a balance left: the ledger's
    `PREPAID_COMMIT_EXPIRATION` (written when the usage invoice covering the segment's end was
    finalized), and what the commit was paid for per unit of access: `paid` (its invoice
    schedule's total) over `granted` (its access schedule's total). A rollover commit was never
    invoiced: both come from the commit it rolled over from (up its chain)."""

    invoice_id: uuid.UUID
    commit_id: uuid.UUID
    name: str
    product_id: uuid.UUID
    expired_at: datetime
    expired: Decimal
    paid: Decimal
    granted: Decimal


def prepaid_commit_expirations(*, after: datetime, until: datetime) -> list[CommitExpiration]:
    """The expirations dated in (after, until], by date, invoice and commit."""
    entries = list(
        BalanceLedgerEntry.objects.filter(
            type=LEDGER.PREPAID_COMMIT_EXPIRATION,
            timestamp__gt=after,
            timestamp__lte=until,
            invoice_id__isnull=False,
        )
        .select_related("commit__product")
        .order_by("timestamp", "invoice_id", "commit_id")
    )
    paid_for = {e.commit_id: e.commit.rolled_over_from_id or e.commit_id for e in entries}
    parents = {e.commit_id: e.commit.rolled_over_from_id for e in entries}
    while unknown := set(paid_for.values()) - set(parents):
        parents.update(
            Commit.objects.filter(pk__in=unknown).values_list("pk", "rolled_over_from_id")
        )
        paid_for = {pk: parents[origin] or origin for pk, origin in paid_for.items()}
    origins = set(paid_for.values())
    paid: dict = defaultdict(Decimal)
    for commit_id, amount, unit_price, quantity in CommitInvoiceItem.objects.filter(
        commit_id__in=origins
    ).values_list("commit_id", "amount", "unit_price", "quantity"):
        paid[commit_id] += amount if amount is not None else unit_price * quantity
    granted = dict(
        AccessSegment.objects.filter(commit_id__in=origins)
        .order_by()
        .values("commit_id")
        .annotate(total=Sum("amount"))
        .values_list("commit_id", "total")
    )
    return [
        CommitExpiration(
            invoice_id=entry.invoice_id,
            commit_id=entry.commit_id,
            name=str(entry.commit),
            product_id=entry.commit.product_id,
            expired_at=entry.timestamp,
            expired=-entry.amount,
            paid=paid[paid_for[entry.commit_id]],
            granted=granted.get(paid_for[entry.commit_id]) or Decimal(0),
        )
        for entry in entries
    ]
