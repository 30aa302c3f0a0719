"""Pieces every offering model uses: money columns, group values as a key, hour alignment, archiving."""

import json

from django.db import models

from .. import money

MONEY = {"max_digits": money.MAX_DIGITS, "decimal_places": money.DECIMAL_PLACES}


def group_values_key(values: dict | None) -> str:
    """A canonical text form of a {key: value} dict, so it can be compared and indexed."""
    return json.dumps(values or {}, sort_keys=True, separators=(",", ":"))


def is_hour_aligned(moment) -> bool:
    return moment is None or (moment.minute == 0 and moment.second == 0 and moment.microsecond == 0)


class ArchivableQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)


class Frequency(models.TextChoices):
    MONTHLY = "MONTHLY", "Monthly"
    QUARTERLY = "QUARTERLY", "Quarterly"
    ANNUAL = "ANNUAL", "Annual"
    WEEKLY = "WEEKLY", "Weekly"
