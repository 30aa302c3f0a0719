"""Helpers every customers service uses: model validation with errors keyed as the API names them."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError


class IngestAliasInUse(ValidationError):
    """An ingest alias already belongs to another customer (the API answers 409)."""


def prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return ValidationError({prefix: exc.messages})
    return ValidationError(
        {
            (prefix if key == "__all__" else f"{prefix}.{key}"): messages
            for key, messages in exc.message_dict.items()
        }
    )


def clean(obj, prefix: str = "", exclude: Sequence[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude) or None)
    except ValidationError as exc:
        raise (prefixed(exc, prefix) if prefix else exc) from None
