"""How the document words dates, tiers and group values (no database)."""

from datetime import UTC, datetime
from decimal import Decimal

from dashboards.document import group_label, period_words, quantity_words, tier_words
from invoicing.models import InvoiceLineItem


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_month_is_its_inclusive_days():
    assert period_words(t(2026, 12, 1), t(2027, 1, 1)) == "December 1-31, 2026"


def test_a_period_across_months_and_years():
    assert period_words(t(2026, 11, 15), t(2026, 12, 15)) == "November 15 - December 14, 2026"
    assert period_words(t(2026, 12, 15), t(2027, 1, 15)) == "December 15, 2026 - January 14, 2027"


def test_a_single_day_and_a_scheduled_date():
    assert period_words(t(2026, 3, 2), t(2026, 3, 3)) == "March 2, 2026"
    assert period_words(t(2026, 3, 2, 12), t(2026, 3, 2, 12)) == "March 2, 2026"


def test_a_period_starting_inside_a_day_counts_that_day():
    assert period_words(t(2026, 12, 1, 9, 30), t(2027, 1, 1)) == "December 1-31, 2026"


def tier(level, starting_at, size):
    return InvoiceLineItem(
        tier_level=level,
        tier_starting_at=Decimal(starting_at),
        tier_size=None if size is None else Decimal(size),
    )


def test_tiers_are_first_next_over():
    assert tier_words(tier(1, 0, 2), "") == "First 2"
    assert tier_words(tier(2, 2, 3), "") == "Next 3"
    assert tier_words(tier(3, 5, None), "") == "Over 5"
    assert tier_words(tier(2, 1000000, 1000000), "tokens") == "Next 1,000,000 tokens"


def test_one_open_tier_says_nothing():
    assert tier_words(tier(1, 0, None), "minutes") == ""
    assert tier_words(InvoiceLineItem(), "minutes") == ""


def test_group_values_follow_the_products_key_order():
    line = InvoiceLineItem(
        pricing_group_values={"resolution": "1080p"},
        presentation_group_values={"team": "marketing"},
    )
    assert group_label(line, ["resolution", "team"]) == "1080p - marketing"
    assert group_label(line, ["team", "resolution"]) == "marketing - 1080p"
    assert group_label(line, []) == "1080p - marketing"


def test_quantities_read_with_separators_and_unit():
    assert quantity_words(Decimal("1234.500"), "minutes") == "1,234.5 minutes"
    assert quantity_words(Decimal("3"), "") == "3"
    assert quantity_words(None, "minutes") == ""
