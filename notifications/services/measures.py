"""What each alert type measures for a customer now, from the selectors the draft invoice uses
(`invoicing.selectors`): the drafts rated now, balances net of what drafts draw, the usage of the
current billing period. Each is read once for a batch of customers (`BatchValues`).

Balance alerts are Metronome's: the commit, credit and combined ones (and their percentages)
compare the SUM of what every matching commit and/or credit of the pricing unit holds now (the
percentage: that sum over the sum of their active segments' amounts) with the threshold, one
measure per customer. They sum the balances of their `access_type`: SPEND (the default) the
money of the SPEND balances in the alert's pricing unit, QUANTITY the units QUANTITY balances
hold (in no pricing unit: `credit_type_id` is Metronome's null id); never units with money; a combined alert's `alert_specifiers` choose the balances (one specifier
matched, none of its excludes) and, with a valueless filter, group them by that custom field's
value, each group a measure (and a subject) of its own. The days-left alerts stay per segment.

Custom field filters (Metronome's `custom_field_filters`, all of them must match) narrow what an
alert measures (`_passes`), with the values the entities carry at the evaluation:
- balance alerts (commit, credit, combined, their percentages, segment days) count only the
  commits and credits that pass: a `Commit` / `ContractCredit` / `ContractCreditOrCommit`
  filter reads the balance's own custom field (a `Commit` filter lets no credit through, a
  `ContractCredit` filter no commit), a `Contract` filter the custom fields of the contract the
  balance belongs to (a customer-level balance: of one of the contracts it applies to, every
  contract of the customer when it names none);
- spend, invoice total and monthly total alerts count only the invoices of the contracts that
  pass their `Contract` filters; a usage alert measures the current billing period of the first
  contract that passes (by its usage draft).
A customer none of whose contracts or balances pass is still evaluated: it has nothing to
measure, so its state is `ok` and nothing fires (as for a customer without a draft). A change of
value re-evaluates the customers it concerns (`custom_fields.changed`, notifications.handlers).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import product

from catalog.money import normalize
from customers import selectors as customer_selectors
from customers.models import (
    QUANTITY_CREDIT_TYPE_ID,
    Commit,
    Contract,
    Credit,
    Customer,
    IngestAlias,
)
from invoicing import selectors as invoice_selectors
from invoicing.models import Invoice
from invoicing.usage import GroupUsage, metric_usage_by_customer, metric_usage_by_group

from ..models import Alert


@dataclass(frozen=True)
class Measure:
    """One value an alert compares with its threshold: `subject` is what crosses (the customer's
    current invoice, a commit...), `properties` what its webhook says about it."""

    subject: str
    value: Decimal
    triggered_by: str
    properties: dict = field(default_factory=dict)


class BatchValues:
    """What the alerts of a batch of customers measure, each read once for the whole batch:
    their started drafts rated with one preload (`invoice_views`), this month's finalized
    invoices, their commits and credits with what drafts draw from them (`balances_now`, from
    the same ratings), and the ids their events arrive under."""

    def __init__(self, customers: list[Customer], now: datetime):
        self.customers = customers
        self.ids = [c.pk for c in customers]
        self.now = now
        self._usage: dict[tuple, dict] = {}
        self._periods: dict = {}
        self._term_contracts: dict = {}
        # {invoice id: RatingResult}: each draft rated once, for its totals and its balance
        # draws alike (`invoice_views` and `balances_now` share it).
        self._rated: dict = {}

    @cached_property
    def draft_invoices(self) -> list[Invoice]:
        """Their draft invoices whose period has started (not rated)."""
        return list(
            Invoice.objects.filter(
                customer_id__in=self.ids,
                status=Invoice.Status.DRAFT,
                start_timestamp__lte=self.now,
            ).select_related("credit_type", "contract")
        )

    @cached_property
    def drafts(self) -> dict:
        """The same, rated now (only when an alert needs a total)."""
        found: dict = defaultdict(list)
        views = invoice_selectors.invoice_views(
            invoices=self.draft_invoices, now=self.now, rated=self._rated
        )
        for view in views:
            found[view.invoice.customer_id].append(view)
        return found

    def usage(self, alert: Alert, customer: Customer, period) -> GroupUsage:
        """The usage `alert` measures for `customer` over `period`, read for every customer of
        the batch whose period for this alert is the same at once (one read per metric, group
        keys and period)."""
        keys = [g["key"] for g in alert.group_values]
        contracts = self.contracts_passing(alert)
        read = (alert.billable_metric_id, tuple(keys), period, contracts)
        if read not in self._usage:
            start, end = period
            same = [c for c in self.customers if self.period(c, contracts) == period]
            ids = {c.pk: self.ingest_ids[c.pk] for c in same}
            shared = metric_usage_by_customer(
                metric=alert.billable_metric,
                customer_ids={tuple(own): own for own in ids.values()},
                starting_at=start,
                ending_before=end,
                group_keys=keys,
            )
            self._usage[read] = {
                c.pk: shared[tuple(ids[c.pk])]
                if shared is not None
                else metric_usage_by_group(  # a period not on hours: from its events
                    metric=alert.billable_metric,
                    customer=c,
                    customer_ids=ids[c.pk],
                    starting_at=start,
                    ending_before=end,
                    group_keys=keys,
                )
                for c in same
            }
        return self._usage[read][customer.pk]

    def period(
        self, customer: Customer, contracts: frozenset | None = None
    ) -> tuple[datetime, datetime] | None:
        """The customer's current billing period: its usage draft's, else the selector's. With
        `contracts` (the ids a Contract filter lets through), only those contracts' usage
        drafts count, and a customer without one has none."""
        if (customer.pk, contracts) not in self._periods:
            found = None
            for invoice in self.draft_invoices:
                if (
                    invoice.customer_id == customer.pk
                    and invoice.type == Invoice.Type.USAGE
                    and invoice.end_timestamp > self.now
                    and (contracts is None or invoice.contract_id in contracts)
                ):
                    found = (invoice.start_timestamp, invoice.end_timestamp)
                    break
            if found is None and contracts is None:
                current = customer_selectors.customer_current_period(
                    customer=customer, now=self.now
                )
                found = current[:2] if current else None
            self._periods[customer.pk, contracts] = found
        return self._periods[customer.pk, contracts]

    @cached_property
    def contracts(self) -> dict:
        """{contract id: (customer id, custom fields)} for the batch's contracts (read when a
        filter asks)."""
        rows = Contract.objects.filter(customer_id__in=self.ids).values_list(
            "pk", "customer_id", "custom_fields"
        )
        return {pk: (customer_id, fields or {}) for pk, customer_id, fields in rows}

    def term_contracts(self, term) -> list:
        """The contracts a commit or credit belongs to: its contract, else (a customer-level
        balance) the contracts it applies to, all of its customer's when it names none (read
        once per batch)."""
        if term.contract_id:
            return [term.contract_id]
        if term.pk not in self._term_contracts:
            named = [c.pk for c in term.applicable_contracts.all()]
            self._term_contracts[term.pk] = named or [
                pk for pk, (owner, _) in self.contracts.items() if owner == term.customer_id
            ]
        return self._term_contracts[term.pk]

    def contracts_passing(self, alert: Alert) -> frozenset | None:
        """The batch's contracts whose custom fields pass the alert's Contract filters (None:
        the alert has none)."""
        wanted = [f for f in alert.custom_field_filters if f["entity"] == "Contract"]
        if not wanted:
            return None
        return frozenset(
            pk
            for pk, (_, fields) in self.contracts.items()
            if all(fields.get(f["key"]) == f["value"] for f in wanted)
        )

    @cached_property
    def month(self) -> tuple[datetime, datetime]:
        start = self.now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, (start + timedelta(days=32)).replace(day=1)

    @cached_property
    def finalized_this_month(self) -> dict:
        start, end = self.month
        found: dict = defaultdict(list)
        for invoice in Invoice.objects.filter(
            customer_id__in=self.ids,
            status=Invoice.Status.FINALIZED,
            start_timestamp__gte=start,
            start_timestamp__lt=end,
        ):
            found[invoice.customer_id].append(invoice)
        return found

    @cached_property
    def balances(self) -> dict:
        found: dict = defaultdict(list)
        for model in (Commit, Credit):
            # Their contracts are read for every balance (`term_contracts`): prefetched.
            for term in model.objects.filter(customer_id__in=self.ids).prefetch_related(
                "access_schedule", "applicable_contracts"
            ):
                found[term.customer_id].append(term)
        return found

    @cached_property
    def held(self) -> dict:
        terms = [t for terms in self.balances.values() for t in terms]
        return invoice_selectors.balances_now(balances=terms, now=self.now, rated=self._rated)

    @cached_property
    def ingest_ids(self) -> dict:
        found = {pk: [str(pk)] for pk in self.ids}
        for customer_id, alias in IngestAlias.objects.filter(customer_id__in=self.ids).values_list(
            "customer_id", "alias"
        ):
            found[customer_id].append(alias)
        return found


class CustomerValues:
    """One customer's view of a `BatchValues` (a batch of its own when none is given)."""

    def __init__(self, customer: Customer, now: datetime, batch: BatchValues | None = None):
        self.customer = customer
        self.now = now
        self.batch = batch or BatchValues([customer], now)

    @property
    def drafts(self) -> list:
        """Draft invoices whose period has started, rated now."""
        return self.batch.drafts.get(self.customer.pk, [])

    @property
    def month_invoices(self) -> list[tuple[Invoice, Decimal]]:
        start, _ = self.batch.month
        rows = [(i, i.total) for i in self.batch.finalized_this_month.get(self.customer.pk, [])]
        rows += [(v.invoice, v.total) for v in self.drafts if start <= v.invoice.start_timestamp]
        return rows

    @property
    def balances(self) -> list:
        return self.batch.balances.get(self.customer.pk, [])

    @property
    def held(self) -> dict:
        return self.batch.held

    def period(self, alert: Alert) -> tuple[datetime, datetime] | None:
        """The current billing period the alert measures: see `BatchValues.period`."""
        return self.batch.period(self.customer, self.batch.contracts_passing(alert))


def _passes(alert: Alert, values: CustomerValues, contract_ids, term=None) -> bool:
    """Whether an invoice of one of `contract_ids`, or the balance `term` (applying to them),
    passes every custom field filter of the alert (see the module's docstring)."""
    if not alert.custom_field_filters:
        return True
    passing = values.batch.contracts_passing(alert)
    if passing is not None and passing.isdisjoint(contract_ids):
        return False
    if term is None:
        return True
    kind = "commit" if term._meta.model_name == "commit" else "contract_credit"
    fields = term.custom_fields or {}
    return all(
        kind in Alert.FILTER_ENTITIES[item["entity"]] and fields.get(item["key"]) == item["value"]
        for item in alert.custom_field_filters
        if item["entity"] != "Contract"
    )


def _line_matches(line, group_values: list[dict]) -> bool:
    values = {**(line.pricing_group_values or {}), **(line.presentation_group_values or {})}
    return all(values.get(g["key"]) == g.get("value") for g in group_values)


def _spend(alert: Alert, values: CustomerValues) -> list[Measure]:
    current = [
        v
        for v in values.drafts
        if v.invoice.type == Invoice.Type.USAGE
        and v.invoice.end_timestamp > values.now
        and v.invoice.credit_type_id == alert.credit_type_id
        and _passes(alert, values, [v.invoice.contract_id])
    ]
    measures = []
    for view in current:
        total = view.total
        if alert.group_values:
            total = sum(
                (ln.total for ln in view.lines if _line_matches(ln, alert.group_values)),
                Decimal(0),
            )
        measures.append(
            Measure(
                subject=str(view.invoice.pk),
                value=total,
                triggered_by=f"The current usage invoice's spend is {total}.",
                properties={"current_spend": str(total), "invoice_id": str(view.invoice.pk)},
            )
        )
    return measures


def _monthly(alert: Alert, values: CustomerValues) -> list[Measure]:
    rows = [
        (i, t)
        for i, t in values.month_invoices
        if i.credit_type_id == alert.credit_type_id and _passes(alert, values, [i.contract_id])
    ]
    if not rows:
        return []
    total = sum((t for _, t in rows), Decimal(0))
    month = f"{values.now.astimezone(UTC):%Y-%m}"
    return [
        Measure(
            subject=month,
            value=total,
            triggered_by=f"The invoices of {month} total {total}.",
            properties={"current_spend": str(total)},
        )
    ]


def _invoice_total(alert: Alert, values: CustomerValues) -> list[Measure]:
    wanted = {t.upper() for t in alert.invoice_types_filter}
    measures = []
    for view in values.drafts:
        invoice = view.invoice
        if invoice.credit_type_id != alert.credit_type_id:
            continue
        if wanted and invoice.type not in wanted:
            continue
        if not _passes(alert, values, [invoice.contract_id]):
            continue
        measures.append(
            Measure(
                subject=str(invoice.pk),
                value=view.total,
                triggered_by=f"Invoice {invoice.pk} totals {view.total}.",
                properties={"invoice_id": str(invoice.pk), "invoice_total": str(view.total)},
            )
        )
    return measures


def _usage(alert: Alert, values: CustomerValues) -> list[Measure]:
    period = values.period(alert)
    if period is None:
        return []
    start, _ = period
    usage = values.batch.usage(alert, values.customer, period)
    wanted = tuple(g.get("value") for g in alert.group_values)
    quantity = sum(
        (q for group, q in usage.items() if q is not None and tuple(group) == wanted),
        Decimal(0),
    )
    return [
        Measure(
            subject=start.isoformat(),
            value=quantity,
            triggered_by=f"Usage of {alert.billable_metric.name} this period is {quantity}.",
            properties={
                "billable_metric_id": str(alert.billable_metric_id),
                "current_usage": str(quantity),
            },
        )
    ]


def _active(term, now: datetime) -> list:
    return [s for s in term.access_schedule.all() if s.starting_at <= now < s.ending_before]


def _counted(alert: Alert, term) -> bool:
    """Whether a commit or credit is one the alert watches: a balance or percentage alert sums
    the balances of its access type (SPEND: money, in its pricing unit; QUANTITY: units, in
    whatever currency the usage they cover is priced), never units with money; a days-left
    alert watches the segments of every balance in its pricing unit."""
    if alert.type in Alert.AMOUNT_TYPES:
        if term.access_type != alert.access_type:
            return False
        if alert.counts_units:
            return True
    return term.credit_type_id == alert.credit_type_id


def _terms(alert: Alert, values: CustomerValues, kinds: tuple[str, ...]) -> list:
    return [
        t
        for t in values.balances
        if t._meta.model_name in kinds
        and t.archived_at is None
        and _counted(alert, t)
        and _active(t, values.now)
        and (
            not alert.custom_field_filters
            or _passes(alert, values, values.batch.term_contracts(t), t)
        )
    ]


def _percent(remaining: Decimal, total: Decimal) -> Decimal:
    return remaining * 100 / total


def _carried(item: dict, values: CustomerValues, term) -> set[str]:
    """The values `term` carries for a filter's entity and key: its own custom field (when the
    entity covers its kind), or those of the contracts it belongs to (a Contract filter)."""
    key = item["key"]
    if item["entity"] == "Contract":
        contracts = values.batch.contracts
        found = (
            contracts.get(pk, (None, {}))[1].get(key) for pk in values.batch.term_contracts(term)
        )
        return {v for v in found if v is not None}
    kind = "commit" if term._meta.model_name == "commit" else "contract_credit"
    own = (term.custom_fields or {}).get(key)
    if kind not in Alert.FILTER_ENTITIES[item["entity"]] or own is None:
        return set()
    return {own}


def _matches(item: dict, values: CustomerValues, term) -> bool:
    """A filter with a value: the term carries it; without one: the term carries the key."""
    carried = _carried(item, values, term)
    return item["value"] in carried if item.get("value") is not None else bool(carried)


def _groups(alert: Alert, values: CustomerValues, term) -> set[tuple]:
    """The groups a balance counts in under the alert's specifiers: `()` (no grouping) when it
    has none; else, for each specifier it matches (every filter, none of its excludes), one
    group per combination of the values it carries for the specifier's valueless filters
    ((entity, key, value) triples, sorted). An empty set: it does not count."""
    if not alert.alert_specifiers:
        return {()}
    found = set()
    for specifier in alert.alert_specifiers:
        filters = specifier.get("custom_field_filters", [])
        if not all(_matches(f, values, term) for f in filters):
            continue
        excludes = [e.get("custom_field_filters", []) for e in specifier.get("exclude", [])]
        if any(ex and all(_matches(f, values, term) for f in ex) for ex in excludes):
            continue
        options = [
            [(f["entity"], f["key"], v) for v in sorted(_carried(f, values, term))]
            for f in filters
            if f.get("value") is None
        ]
        found.update(tuple(sorted(combo)) for combo in product(*options))
    return found


def _unit_id(alert: Alert) -> str:
    """What a balance alert's sum is counted in: its pricing unit, or (QUANTITY) units, under
    Metronome's null credit type id."""
    return QUANTITY_CREDIT_TYPE_ID if alert.counts_units else str(alert.credit_type_id)


def _amount(alert: Alert, remaining: Decimal) -> str:
    """What a balance alert's sum says in words: the amount, or so many units."""
    said = normalize(remaining)
    if not alert.counts_units:
        return str(said)
    return f"{said} unit" if said == 1 else f"{said} units"


def group_subject(alert: Alert, group: tuple) -> str:
    """The subject a balance alert's sum is tracked under (its `alarmed` entry): the pricing
    unit, and the group's custom field values when the specifiers group."""
    kinds = {
        Alert.Type.COMMIT_BALANCE: "commits",
        Alert.Type.COMMIT_PERCENTAGE: "commits",
        Alert.Type.CREDIT_BALANCE: "credits",
        Alert.Type.CREDIT_PERCENTAGE: "credits",
    }
    head = f"{kinds.get(alert.type, 'balances')}:{_unit_id(alert)}"
    return head + "".join(f"|{entity}.{key}={value}" for entity, key, value in group)


def specifier_subject(alert: Alert, specifiers: list[dict]) -> str:
    """The subject of the group that a customer-alerts/get `alert_specifiers` names: its
    filters on the keys the alert groups by (the alert's whole sum when it groups by none)."""
    grouped = {
        (f["entity"], f["key"])
        for s in alert.alert_specifiers
        for f in s.get("custom_field_filters", [])
        if f.get("value") is None
    }
    group = {
        (f["entity"], f["key"], f["value"])
        for s in specifiers
        for f in s.get("custom_field_filters", [])
        if (f["entity"], f["key"]) in grouped
    }
    return group_subject(alert, tuple(sorted(group)))


def _balance(alert: Alert, values: CustomerValues, kinds, *, percentage: bool) -> list[Measure]:
    """Metronome's low balance alerts: the SUM of what the matching commits and/or credits hold
    now (their percentage: that sum over the sum of their active segments' amounts), one
    measure per specifier group."""
    groups: dict[tuple, list] = defaultdict(list)
    for term in _terms(alert, values, kinds):
        for group in _groups(alert, values, term):
            groups[group].append(term)
    label = {("commit",): "commits", ("credit",): "credits"}.get(
        tuple(kinds), "commits and credits"
    )
    measures = []
    for group, terms in sorted(groups.items()):
        remaining = sum((values.held[t.pk] for t in terms), Decimal(0))
        total = sum((s.amount for t in terms for s in _active(t, values.now)), Decimal(0))
        if percentage and not total:
            continue
        value = _percent(remaining, total) if percentage else remaining
        properties = {"credit_type_id": _unit_id(alert), "remaining_balance": str(remaining)}
        if percentage:
            properties["remaining_percentage"] = str(value)
        named = ""
        if group:
            filters = [{"entity": e, "key": k, "value": v} for e, k, v in group]
            properties["alert_specifier"] = {"custom_field_filters": filters}
            named = " (" + ", ".join(f"{e} {k} = {v}" for e, k, v in group) + ")"
        measures.append(
            Measure(
                subject=group_subject(alert, group),
                value=value,
                triggered_by=f"The {label}{named} have {_amount(alert, remaining)} left"
                + (f" ({value:.2f}%)." if percentage else "."),
                properties=properties,
            )
        )
    return measures


def _segment_days(alert: Alert, values: CustomerValues, kind: str) -> list[Measure]:
    measures = []
    for term in _terms(alert, values, (kind,)):
        for segment in _active(term, values.now):
            days = Decimal((segment.ending_before - values.now).days)
            measures.append(
                Measure(
                    subject=str(segment.pk),
                    value=days,
                    triggered_by=f"A segment of {term} ends in {days} day(s).",
                    properties={
                        f"{kind}_id": str(term.pk),
                        "segment_id": str(segment.pk),
                        "remaining_days": str(days),
                    },
                )
            )
    return measures


def measures_for(alert: Alert, values: CustomerValues) -> list[Measure]:
    """What `alert` compares with its threshold for this customer now."""
    T = Alert.Type
    match alert.type:
        case T.SPEND:
            return _spend(alert, values)
        case T.MONTHLY_INVOICE_TOTAL:
            return _monthly(alert, values)
        case T.INVOICE_TOTAL:
            return _invoice_total(alert, values)
        case T.USAGE:
            return _usage(alert, values)
        case T.COMMIT_BALANCE | T.COMMIT_PERCENTAGE:
            return _balance(alert, values, ("commit",), percentage=alert.type in Alert.PERCENTAGE)
        case T.CREDIT_BALANCE | T.CREDIT_PERCENTAGE:
            return _balance(alert, values, ("credit",), percentage=alert.type in Alert.PERCENTAGE)
        case T.COMBINED_BALANCE | T.COMBINED_PERCENTAGE:
            kinds = ("commit", "credit")
            return _balance(alert, values, kinds, percentage=alert.type in Alert.PERCENTAGE)
        case T.COMMIT_SEGMENT_DAYS:
            return _segment_days(alert, values, "commit")
        case T.CREDIT_SEGMENT_DAYS:
            return _segment_days(alert, values, "credit")
    return []
