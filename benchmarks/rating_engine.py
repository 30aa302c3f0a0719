"""The pure rating engine on large single invoices (run by `make bench`, or `python
benchmarks/rating_engine.py`): no database, figures printed, nothing asserted.

1. Tiered usage shown per presentation value: 50 pricing groups x 200 presentation values x 2
   rate segments (20,000 usage records), each presentation line taking its share of every tier
   (`invoicing.rating.usage._share`), against as many records with one presentation value each
   (10,000 pricing groups: no sharing).
2. Override targeting: the same usage with 20 overrides by specifier (tags, pricing and
   presentation group values) on a LOWEST_MULTIPLIER contract.
3. Composite charges: a tiered percentage with a minimum over 10,000 lines of customer spend.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")

from invoicing.rating import (
    CustomerSpend,
    Override,
    OverrideSpecifier,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Tier,
    Usage,
    group_values,
    rate_invoice,
)

D = Decimal
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
GROUPS, USERS = 50, 200
TIERS = (Tier(price=D("2"), size=D("1000")), Tier(price=D("1.5"), size=D("9000")), Tier(D("1")))
TOKENS = Product(
    id="tokens",
    name="Tokens",
    type="USAGE",
    tags=("ai", "gpu"),
    pricing_group_keys=("model",),
    presentation_group_keys=("user",),
)
SUPPORT = Product(id="support", name="Support", type="COMPOSITE", composite_tags=("ai",))


def world(users: int, overrides=(), spend=(), groups: int = GROUPS) -> RatingInput:
    usage = [
        Usage(
            product_id="tokens",
            starting_at=start,
            ending_before=end,
            quantity=D(37 + (g * 7 + u * 13) % 900),
            pricing_group_values=group_values({"model": f"m{g:02d}"}),
            presentation_group_values=group_values({"user": f"u{u:03d}"}),
        )
        for g in range(groups)
        for u in range(users)
        for start, end in ((MAR_1, MAR_16), (MAR_16, APR_1))
    ]
    rates = [
        Rate(
            product_id="tokens",
            rate_type="TIERED",
            starting_at=start,
            tiers=TIERS,
            pricing_group_values=group_values({"model": f"m{g:02d}"}),
        )
        for g in range(groups)
        for start in (JAN_1, MAR_16)
    ]
    rates.append(
        Rate(
            product_id="support",
            rate_type="TIERED_PERCENTAGE",
            starting_at=JAN_1,
            tiers=(Tier(price=D("0.1"), size=D("1000000")), Tier(price=D("0.05"))),
            composite_minimum=D("50000"),
            composite_scope="CUSTOMER",
        )
    )
    return RatingInput(
        pricing_unit=PricingUnit(id="usd", name="USD (cents)"),
        period=Period(MAR_1, APR_1),
        products=(TOKENS, SUPPORT),
        rates=tuple(rates),
        usage=tuple(usage),
        overrides=tuple(overrides),
        customer_spend=tuple(spend),
    )


def timed(label: str, rating: RatingInput, runs: int = 5) -> None:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = rate_invoice(rating)
        seconds.append(time.perf_counter() - began)
    print(
        f"{label}: {len(rating.usage):,} usage records -> {len(result.lines):,} lines, "
        f"median {statistics.median(seconds) * 1000:.0f} ms, best {min(seconds) * 1000:.0f} ms "
        f"({runs} runs)"
    )


def main() -> None:
    timed("tiered, 1 presentation value per group   ", world(1, groups=GROUPS * USERS))
    timed(f"tiered, {USERS} presentation values per group", world(USERS))
    overrides = [
        Override(
            id=f"o{i}",
            starting_at=JAN_1,
            multiplier=D("0.9") - D(i) / 100,
            specifiers=(
                OverrideSpecifier(
                    product_tags=("ai", "gpu"),
                    pricing_group_values=group_values({"model": f"m{i:02d}"}),
                    presentation_group_values=group_values({"user": f"u{i:03d}"}),
                ),
            ),
        )
        for i in range(20)
    ]
    timed("the same with 20 specifier overrides       ", world(USERS, overrides))
    spend = [
        CustomerSpend(
            contract_id=f"c{i % 10}",
            product_id="other",
            product_tags=("ai",),
            starting_at=MAR_1,
            total=D(100 + i),
        )
        for i in range(10_000)
    ]
    timed("the same with 10,000 lines of customer spend", world(USERS, overrides, spend))


if __name__ == "__main__":
    main()
