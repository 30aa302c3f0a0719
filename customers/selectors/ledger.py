"""What the ledger says a segment holds, and what a POSTPAID commit's invoices drew: from the
ledger rows of the segments asked about, read in one query (`ledger_rows`).

Finalizing a batch of invoices reads those rows once for every segment its invoices may draw,
then adds each invoice's entries as it makes them (`LedgerRows.add`), so the invoice after it (a
contract's next period in the same batch, a parent after its children) sees them without a
query of its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from catalog.money import full_precision

from ..models import AccessSegment, BalanceLedgerEntry, Commit

_POSTPAID_DEDUCTION = BalanceLedgerEntry.Type.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION
_POSTPAID_MANUAL = BalanceLedgerEntry.Type.POSTPAID_COMMIT_MANUAL


@dataclass
class LedgerRows:
    """The ledger entries of some segments and commits:
    (segment id, commit id, type, amount, timestamp, invoice id) each."""

    segment_ids: set
    commit_ids: set
    rows: list[tuple] = field(default_factory=list)

    def covers(self, *, segments: Iterable[AccessSegment], commits: Iterable = ()) -> bool:
        return {s.pk for s in segments} <= self.segment_ids and set(commits) <= self.commit_ids

    def add(self, entries: Iterable[BalanceLedgerEntry]) -> None:
        """Entries written since the read (by the caller's transaction)."""
        self.rows += [
            (e.segment_id, e.commit_id, e.type, e.amount, e.timestamp, e.invoice_id)
            for e in entries
        ]

    def available(
        self, *, segments: Iterable[AccessSegment], as_of: datetime | None = None
    ) -> dict:
        """`segment_available(segments=..., as_of=...)` from these rows."""
        moved: dict = defaultdict(Decimal)
        with full_precision():  # exact, as the database's sum was
            for segment_id, _, _, amount, timestamp, invoice_id in self.rows:
                if as_of is None or invoice_id is None or timestamp <= as_of:
                    moved[segment_id] += amount
        return {s.pk: s.amount + (moved.get(s.pk) or Decimal(0)) for s in segments}

    def postpaid_drawn(self, *, commits: Iterable[Commit]) -> dict:
        """{commit id: sum of its POSTPAID deductions}, whatever their date (a later period's
        invoice or another contract's may have drawn it first), but a voided invoice's: it was
        given back (one manual entry naming that invoice). Commits without any are left out."""
        wanted = {c.pk for c in commits}
        voided = {
            invoice_id
            for _, commit_id, kind, _, _, invoice_id in self.rows
            if commit_id in wanted and kind == _POSTPAID_MANUAL and invoice_id is not None
        }
        drawn: dict = {}
        with full_precision():
            for _, commit_id, kind, amount, _, invoice_id in self.rows:
                if commit_id in wanted and kind == _POSTPAID_DEDUCTION and invoice_id not in voided:
                    drawn[commit_id] = drawn.get(commit_id, Decimal(0)) + amount
        return drawn


def ledger_rows(*, segments: Iterable[AccessSegment], commits: Iterable = ()) -> LedgerRows:
    """The ledger rows of these segments and of these commits (ids), in one query."""
    segment_ids = {s.pk for s in segments}
    commit_ids = set(commits)
    rows = BalanceLedgerEntry.objects.filter(
        Q(segment_id__in=segment_ids) | Q(commit_id__in=commit_ids)
    ).values_list("segment_id", "commit_id", "type", "amount", "timestamp", "invoice_id")
    return LedgerRows(segment_ids=segment_ids, commit_ids=commit_ids, rows=list(rows))


def segment_available(*, segments: Iterable[AccessSegment], as_of: datetime | None = None) -> dict:
    """What each segment holds: its amount + every manual entry (future-dated ones too, as in
    Metronome) + the automated entries of finalized invoices (deductions, expirations, true-ups,
    voids: the ledger only has finalized invoices' entries) dated at or before `as_of` (None: all).

    Pass `as_of` = the invoice's period start to get what is AVAILABLE when that invoice starts
    (earlier invoices' deductions are dated at their period end). One query for all segments.
    Returns {segment id (UUID): Decimal}; the figure may be negative after manual draw-downs (the
    caller clamps at zero where Metronome does).
    """
    segments = list(segments)
    return ledger_rows(segments=segments).available(segments=segments, as_of=as_of)
