"""The engine's vocabulary: Metronome's upper-case enum values, group values as sorted pairs,
and `Checked`, the base of every input and output dataclass (no floats, no naive datetimes)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache


class ProductType:
    USAGE = "USAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    COMPOSITE = "COMPOSITE"
    FIXED = "FIXED"
    PRO_SERVICE = "PRO_SERVICE"
    ALL = frozenset({USAGE, SUBSCRIPTION, COMPOSITE, FIXED, PRO_SERVICE})


class RateType:
    FLAT = "FLAT"
    TIERED = "TIERED"
    PERCENTAGE = "PERCENTAGE"
    TIERED_PERCENTAGE = "TIERED_PERCENTAGE"
    SUBSCRIPTION = "SUBSCRIPTION"
    ALL = frozenset({FLAT, TIERED, PERCENTAGE, TIERED_PERCENTAGE, SUBSCRIPTION})
    # Priced by tiers, not by a price.
    TIERED_TYPES = frozenset({TIERED, TIERED_PERCENTAGE})
    # The rates of COMPOSITE products.
    COMPOSITE = frozenset({PERCENTAGE, TIERED_PERCENTAGE})


class CompositeScope:
    """Whose spend a composite rate counts: this contract's, or the customer's on every one of
    its contracts (billed on one contract: the selector drops the rate from the others)."""

    CONTRACT = "CONTRACT"
    CUSTOMER = "CUSTOMER"
    ALL = frozenset({CONTRACT, CUSTOMER})


class CollectionSchedule:
    ADVANCE = "ADVANCE"
    ARREARS = "ARREARS"
    ALL = frozenset({ADVANCE, ARREARS})


class LineType:
    """Metronome's line item `type`. Composite lines are `usage` lines of a COMPOSITE product."""

    USAGE = "usage"
    SUBSCRIPTION = "subscription"
    SCHEDULED = "scheduled"
    COMMIT_PURCHASE = "commit_purchase"
    POSTPAID_TRUEUP = "postpaid_trueup"
    APPLIED_COMMIT_OR_CREDIT = "applied_commit_or_credit"
    CPU_CONVERSION = "cpu_conversion"
    DISCOUNT = "discount"
    PROFESSIONAL_SERVICE = "professional_service"
    # A precalculated tax on a payment-gated commit purchase: in the total, not the subtotal.
    TAX = "tax"
    CHARGES = frozenset(
        {
            USAGE,
            SUBSCRIPTION,
            SCHEDULED,
            CPU_CONVERSION,
            COMMIT_PURCHASE,
            POSTPAID_TRUEUP,
            PROFESSIONAL_SERVICE,
        }
    )
    # The charges a commit or credit can be drawn against.
    DRAWABLE = frozenset({USAGE, SUBSCRIPTION, CPU_CONVERSION})


class InvoiceType:
    """Metronome's invoice `type`: a USAGE invoice per billing period, a SCHEDULED invoice per
    date of the contract's scheduled charges and commit invoice schedules (see `rate_invoice`)."""

    USAGE = "USAGE"
    SCHEDULED = "SCHEDULED"
    ALL = frozenset({USAGE, SCHEDULED})


class BalanceType:
    """A commit (PREPAID, POSTPAID) or a credit (CREDIT): Metronome's `applied_commit_or_credit.type`."""

    PREPAID = "PREPAID"
    POSTPAID = "POSTPAID"
    CREDIT = "CREDIT"
    ALL = frozenset({PREPAID, POSTPAID, CREDIT})


class BalanceAccessType:
    """How a balance is drawn down: SPEND takes the money usage costs, QUANTITY the units used
    (its access segments hold units of its applicable products)."""

    SPEND = "SPEND"
    QUANTITY = "QUANTITY"
    ALL = frozenset({SPEND, QUANTITY})


class BalanceRateType:
    LIST_RATE = "LIST_RATE"
    COMMIT_RATE = "COMMIT_RATE"
    ALL = frozenset({LIST_RATE, COMMIT_RATE})


class OverrideType:
    OVERWRITE = "OVERWRITE"
    MULTIPLIER = "MULTIPLIER"
    TIERED = "TIERED"
    ALL = frozenset({OVERWRITE, MULTIPLIER, TIERED})


class MultiplierPrioritization:
    LOWEST_MULTIPLIER = "LOWEST_MULTIPLIER"
    EXPLICIT = "EXPLICIT"
    ALL = frozenset({LOWEST_MULTIPLIER, EXPLICIT})


# Group values as sorted (key, value) pairs: hashable, ordered, and `dict()` gives the mapping back.
GroupValues = tuple[tuple[str, str], ...]


def group_values(values: Mapping[str, object] | Iterable[tuple[str, object]] | None) -> GroupValues:
    """Normalize group values given as a mapping or pairs into sorted string pairs."""
    if values is None:
        return ()
    pairs = values.items() if isinstance(values, Mapping) else values
    return tuple(sorted((str(key), str(value)) for key, value in pairs))


@cache
def field_types(cls: type) -> tuple[tuple[str, object], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((field.name, hints[field.name]) for field in dataclasses.fields(cls))


def strip_optional(annotation: object) -> object:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


@cache
def checked_fields(cls: type) -> tuple[tuple[str, object], ...]:
    """The fields `Checked` looks at, with the kind of check: Decimal, datetime or tuple."""
    checked = []
    for name, annotation in field_types(cls):
        kind = strip_optional(annotation)
        if typing.get_origin(kind) is tuple:
            checked.append((name, tuple))
        elif kind in (Decimal, datetime):
            checked.append((name, kind))
    return tuple(checked)


# (class, names of the fields an `evolve` changes) -> the fields among them to check.
_EVOLVE_CHECKS: dict[tuple, tuple[tuple[str, object], ...]] = {}


def _evolve_checks(key: tuple) -> tuple[tuple[str, object], ...]:
    cls, *names = key
    fields = {name for name, _ in field_types(cls)}
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    checks = _EVOLVE_CHECKS[key] = tuple(
        (name, kind) for name, kind in checked_fields(cls) if name in names
    )
    return checks


class Checked:
    """Refuses floats, strings posing as numbers, and naive datetimes at construction; turns
    lists given for tuple fields into tuples (so inputs stay hashable and compare equal)."""

    def __post_init__(self) -> None:
        self._check(checked_fields(type(self)))

    def evolve(self, **changes: object) -> typing.Self:
        """A copy with `changes`, equal to what `dataclasses.replace(self, **changes)` makes,
        without running `__init__` again: the fields kept were checked when `self` was made,
        the changed ones are checked here, and so are the cross-field rules. The presentation
        lines of a window differ from each other in a few fields; made by `__init__`, each
        setting its 30 fields one by one, a 10,000-line draft spent a tenth of its read there."""
        cls = type(self)
        key = (cls, *changes)
        checks = _EVOLVE_CHECKS.get(key) or _evolve_checks(key)
        new = object.__new__(cls)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        new._check(checks)
        return new

    def _check(self, fields: Iterable[tuple[str, object]]) -> None:
        values = self.__dict__
        for name, kind in fields:
            value = values[name]
            if value is None:
                continue
            if kind is tuple:
                if isinstance(value, list):
                    values[name] = tuple(value)
            elif kind is Decimal:
                if type(value) is not Decimal and not isinstance(value, Decimal):
                    raise TypeError(
                        f"{type(self).__name__}.{name} must be a Decimal, not {value!r}"
                    )
            elif not isinstance(value, datetime) or value.utcoffset() is None:
                raise TypeError(f"{type(self).__name__}.{name} must be an aware datetime")
        self._validate()

    def _validate(self) -> None:
        """Cross-field checks of a subclass."""
