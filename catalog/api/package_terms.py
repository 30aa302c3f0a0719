"""Package terms that the apps above the catalog check and show: a registry, filled from their
AppConfig.ready.

A package is a contract template, so it lives in the catalog; but recurring commits and credits,
threshold billing and commit specifiers are contract terms, whose request shapes, stored forms
and answers belong to `customers`. The catalog's package endpoints take them as JSON and hand
each to the check registered under its name (which validates it, names the field of any error,
and returns what the package stores) and, to answer, to its `present`. A term nobody registered
is refused ("Not supported yet.").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PackageTerm:
    # (value as sent, *, rate_card, where, package=the whole request) -> the stored form;
    # raises DRF's ValidationError.
    check: Callable[..., Any]
    # stored form -> the answer's (the SDK's package response) shape.
    present: Callable[[Any], Any]


_TERMS: dict[str, PackageTerm] = {}


def register(name: str, *, check: Callable[..., Any], present: Callable[[Any], Any]) -> None:
    _TERMS[name] = PackageTerm(check=check, present=present)


def registered() -> Mapping[str, PackageTerm]:
    return _TERMS
