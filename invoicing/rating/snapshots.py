"""Snapshots: any engine value as JSON-ready data, and a `RatingInput` read back from it (re-rating
a stored snapshot reproduces its invoice to the cent)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from catalog.money import to_decimal

from .inputs import RatingInput
from .vocabulary import field_types, strip_optional


def to_json(value: object) -> object:
    """Any engine value as JSON-ready data: Decimals as plain strings, datetimes ISO 8601.
    (Dispatched on the exact type first, a dataclass's field names kept per class: a snapshot
    holds a few hundred values per invoice and finalization writes one per invoice.)"""
    kind = type(value)
    if kind is Decimal:
        return format(value, "f")
    if kind in _AS_IS:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    if kind is tuple or kind is list:
        return [to_json(item) for item in value]
    if kind is datetime:
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(value))
        return to_json(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


_AS_IS = frozenset({str, int, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def rating_input_from_json(data: Mapping[str, object]) -> RatingInput:
    """The inverse of `to_json(rating_input)`: re-rating a snapshot reproduces its invoice."""
    return _from_json(RatingInput, data)


def _from_json(annotation: object, value: object) -> typing.Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _from_json(strip_optional(annotation), value)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], item) for item in value)
        return tuple(_from_json(arg, item) for arg, item in zip(args, value, strict=True))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation(
            **{
                name: _from_json(field_type, value[name])
                for name, field_type in field_types(annotation)
                if name in value
            }
        )
    if annotation is Decimal:
        return to_decimal(value)
    if annotation is datetime:
        return datetime.fromisoformat(value)
    if annotation in (str, int, bool) and isinstance(value, annotation):
        return value
    raise TypeError(f"cannot read {value!r} as {annotation}")
