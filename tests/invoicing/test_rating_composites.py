"""Composite charges as Metronome's guide describes them: a percentage of applicable spend with an
optional minimum ("the greater of"), tiered percentages (better rates as spend grows), and scope
(this contract's spend, or the customer's across contracts)."""

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from invoicing.rating import (
    CustomerSpend,
    LineTier,
    Override,
    OverwriteRate,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Tier,
    Usage,
    rate_invoice,
)

D = Decimal
USD = PricingUnit(id="usd", name="USD (cents)")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
MAR_16 = datetime(2026, 3, 16, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
COMPUTE = Product(id="compute", name="Compute", type="USAGE", tags=("infra",))
SUPPORT = Product(id="support", name="Support", type="COMPOSITE", composite_tags=("infra",))
MARCH = Period(MAR_1, APR_1)


def support(rate_type="PERCENTAGE", price=None, tiers=(), start=JAN_1, end=None, **more):
    return Rate(
        product_id="support",
        rate_type=rate_type,
        starting_at=start,
        ending_before=end,
        price=None if price is None else D(price),
        tiers=tuple(Tier(price=D(p), size=None if s is None else D(s)) for s, p in tiers),
        **more,
    )


def rated(*support_rates, compute="20", period=MARCH, **more):
    usage = (
        ()
        if compute is None
        else (Usage("compute", period.starting_at, period.ending_before, D(compute)),)
    )
    return rate_invoice(
        RatingInput(
            pricing_unit=USD,
            period=period,
            products=(COMPUTE, SUPPORT),
            rates=(
                Rate(product_id="compute", rate_type="FLAT", starting_at=JAN_1, price=D(100)),
                *support_rates,
            ),
            usage=usage,
            **more,
        )
    )


def composite(result):
    return [
        (line.name, line.quantity, line.unit_price, line.total)
        for line in result.lines
        if line.product_id == "support"
    ]


def test_a_minimum_makes_up_the_difference_when_the_percentage_is_less():
    # 10% of 2000 = 200 < 500: a minimum line of 300 makes the charge 500.
    result = rated(support(price="0.1", composite_minimum=D(500)))

    assert composite(result) == [
        ("Support", D("2000"), D("0.1"), D("200")),
        ("Support (minimum)", D("1"), D("300"), D("300")),
    ]
    assert result.total == D("2500")


def test_the_percentage_wins_when_it_is_more_than_the_minimum():
    result = rated(support(price="0.1", composite_minimum=D(500)), compute="80")

    assert composite(result) == [("Support", D("8000"), D("0.1"), D("800"))]


def test_a_minimum_is_charged_even_without_spend():
    result = rated(support(price="0.1", composite_minimum=D(500)), compute=None)

    assert composite(result) == [("Support (minimum)", D("1"), D("500"), D("500"))]


def test_a_minimum_is_prorated_over_a_part_period():
    # A contract starting Mar 16: 16 of 31 days of the $5.00 minimum = 258.06 -> 258.
    result = rated(
        support(price="0.1", composite_minimum=D(500)),
        compute="1",
        period=Period(MAR_16, APR_1),
        full_period=Period(MAR_1, APR_1),
    )

    assert composite(result) == [
        ("Support", D("100"), D("0.1"), D("10")),
        ("Support (minimum)", D("1"), D("248"), D("248")),
    ]
    assert [line.is_prorated for line in result.lines if line.product_id == "support"] == [
        False,
        True,
    ]


def test_tiered_percentages_are_graduated_over_the_spend():
    # Spend 15000: 10% of the first 10000 = 1000, 5% of the next 5000 = 250.
    result = rated(
        support("TIERED_PERCENTAGE", tiers=[("10000", "0.1"), (None, "0.05")]), compute="150"
    )

    lines = [line for line in result.lines if line.product_id == "support"]
    assert [(line.quantity, line.unit_price, line.total, line.tier) for line in lines] == [
        (D("10000"), D("0.1"), D("1000"), LineTier(1, D(0), D("10000"))),
        (D("5000"), D("0.05"), D("250"), LineTier(2, D("10000"), None)),
    ]


def test_a_later_tiered_percentage_rate_continues_the_periods_spend():
    compute = [
        Usage("compute", MAR_1, MAR_16, D("60")),
        Usage("compute", MAR_16, APR_1, D("60")),
    ]
    tiers = [("10000", "0.1"), (None, "0.05")]
    result = rate_invoice(
        RatingInput(
            pricing_unit=USD,
            period=Period(MAR_1, APR_1),
            products=(COMPUTE, SUPPORT),
            rates=(
                Rate(product_id="compute", rate_type="FLAT", starting_at=JAN_1, price=D(100)),
                support("TIERED_PERCENTAGE", tiers=tiers, end=MAR_16),
                support("TIERED_PERCENTAGE", tiers=tiers, start=MAR_16),
            ),
            usage=tuple(compute),
        )
    )

    assert composite(result) == [
        ("Support", D("6000"), D("0.1"), D("600")),
        ("Support", D("4000"), D("0.1"), D("400")),
        ("Support", D("2000"), D("0.05"), D("100")),
    ]


def test_customer_scope_counts_the_other_contracts_spend():
    other = CustomerSpend(
        contract_id="other",
        product_id="storage",
        product_tags=("infra",),
        starting_at=MAR_1,
        total=D("3000"),
    )
    unrelated = dataclasses.replace(other, product_id="ads", product_tags=("ads",))

    contract_only = rated(support(price="0.1"), customer_spend=(other, unrelated))
    customer_wide = rated(
        support(price="0.1", composite_scope="CUSTOMER"), customer_spend=(other, unrelated)
    )

    assert composite(contract_only) == [("Support", D("2000"), D("0.1"), D("200"))]
    assert composite(customer_wide) == [("Support", D("5000"), D("0.1"), D("500"))]


def test_an_overwrite_turns_a_tiered_percentage_into_a_flat_one_keeping_its_minimum():
    overwrite = Override(
        id="o",
        type="OVERWRITE",
        starting_at=JAN_1,
        product_id="support",
        overwrite_rate=OverwriteRate(rate_type="FLAT", price=D("0.02")),
    )
    result = rated(
        support(
            "TIERED_PERCENTAGE", tiers=[("10000", "0.1"), (None, "0.05")], composite_minimum=D(100)
        ),
        overrides=(overwrite,),
    )

    assert composite(result) == [
        ("Support", D("2000"), D("0.02"), D("40")),
        ("Support (minimum)", D("1"), D("60"), D("60")),
    ]
