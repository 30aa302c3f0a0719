"""Helpers every offering service uses."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError


def save_clean(obj, *, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude) or None)
    obj.save()


def already_archived(obj, label: str) -> None:
    if obj.archived_at is not None:
        raise ValidationError(f"This {label} is already archived.")
