"""Pieces every customers model uses: window checks and constraints."""

from django.db import models
from django.db.models import F, Q

from catalog.models import (
    is_hour_aligned,
)

HOUR_MESSAGE = "Must be on an hour boundary (minutes and seconds zero, UTC)."


def window_errors(starting_at, ending_before, *, hour_aligned: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if hour_aligned:
        for name, value in (("starting_at", starting_at), ("ending_before", ending_before)):
            if not is_hour_aligned(value):
                errors[name] = HOUR_MESSAGE
    if starting_at and ending_before and ending_before <= starting_at:
        errors["ending_before"] = "Must be after the start."
    return errors


def start_before_end(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(ending_before__isnull=True) | Q(ending_before__gt=F("starting_at")),
        name=f"{prefix}_start_before_end",
        violation_error_message="The end must be after the start.",
    )
