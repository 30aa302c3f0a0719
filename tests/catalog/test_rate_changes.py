"""A price change is a new rate with a later start (`catalog.services.rate_add`): the rate it
interrupts ends there, stored, so every instant has exactly one rate per product and pricing
group values."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog import services
from catalog.models import Rate
from catalog.selectors import rates_at
from tests.catalog.factories import ProductFactory, RateCardFactory

JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def card():
    return RateCardFactory()


@pytest.fixture
def product():
    return ProductFactory(pricing_group_key=["model_name"])


def add(card, product, start, price=None, *, end=None, model="A", **extra):
    fields = {
        "rate_type": "FLAT",
        "price": None if price is None else Decimal(price),
        **extra,
    }
    return services.rate_add(
        rate_card=card,
        product=product,
        entitled=True,
        starting_at=start,
        ending_before=end,
        pricing_group_values={"model_name": model},
        **fields,
    )


def windows(card, product, model="A"):
    rates = Rate.objects.filter(
        rate_card=card, product=product, pricing_group_values={"model_name": model}
    ).order_by("starting_at")
    return [(r.starting_at, r.ending_before, r.price) for r in rates]


def test_a_later_rate_ends_the_open_ended_one_at_its_start(card, product):
    add(card, product, JAN, "150")
    new = add(card, product, MAR, "120")

    assert windows(card, product) == [(JAN, MAR, Decimal("150")), (MAR, None, Decimal("120"))]
    assert new.ending_before is None


def test_every_instant_has_exactly_one_rate_after_a_change(card, product):
    add(card, product, JAN, "150")
    add(card, product, MAR, "120")

    for at, price in [(JAN, "150"), (datetime(2026, 2, 28, 23, tzinfo=UTC), "150"), (MAR, "120")]:
        assert [r.price for r in rates_at(rate_card=card, at=at)] == [Decimal(price)]


def test_a_later_rate_only_ends_the_rate_of_its_own_pricing_group_values(card, product):
    add(card, product, JAN, "150", model="A")
    add(card, product, JAN, "90", model="B")
    add(card, product, MAR, "120", model="A")

    assert windows(card, product, "B") == [(JAN, None, Decimal("90"))]


def test_a_bounded_promotion_inside_an_open_rate_lets_the_list_price_resume(card, product):
    add(card, product, JAN, "150")
    add(card, product, MAR, "100", end=APR)

    assert windows(card, product) == [
        (JAN, MAR, Decimal("150")),
        (MAR, APR, Decimal("100")),
        (APR, None, Decimal("150")),
    ]


def test_the_resumed_rate_keeps_its_tiers_and_commit_rate(card, product):
    add(
        card,
        product,
        JAN,
        rate_type="TIERED",
        tiers=[(Decimal("10"), Decimal("5")), (None, Decimal("3"))],
        commit_rate=services.CommitRateSpec(rate_type="FLAT", price=Decimal("2")),
    )
    add(card, product, MAR, "4", end=APR)

    resumed = Rate.objects.get(rate_card=card, starting_at=APR)
    assert resumed.rate_type == "TIERED"
    assert [(t.level, t.size, t.price) for t in resumed.tiers.order_by("level")] == [
        (1, Decimal("10"), Decimal("5")),
        (2, None, Decimal("3")),
    ]
    assert (resumed.commit_rate_type, resumed.commit_rate_price) == ("FLAT", Decimal("2"))


def test_a_rate_starting_before_a_stored_one_ends_where_the_stored_one_starts(card, product):
    add(card, product, MAR, "120")
    earlier = add(card, product, JAN, "150")

    assert earlier.ending_before == MAR
    assert windows(card, product) == [(JAN, MAR, Decimal("150")), (MAR, None, Decimal("120"))]


def test_an_open_rate_added_around_a_stored_promotion_resumes_after_it(card, product):
    add(card, product, MAR, "100", end=APR)
    add(card, product, JAN, "150")

    assert windows(card, product) == [
        (JAN, MAR, Decimal("150")),
        (MAR, APR, Decimal("100")),
        (APR, None, Decimal("150")),
    ]


def test_a_change_ends_a_bounded_rate_early_without_a_resumption_after_it(card, product):
    add(card, product, JAN, "150", end=JUN)
    add(card, product, MAR, "120")

    assert windows(card, product) == [(JAN, MAR, Decimal("150")), (MAR, None, Decimal("120"))]


def test_two_rates_starting_at_the_same_instant_are_refused_and_nothing_changes(card, product):
    add(card, product, JAN, "150")

    with pytest.raises(ValidationError) as caught:
        add(card, product, JAN, "120")

    assert caught.value.message_dict == {
        "starting_at": [
            "This product already has a rate starting at that time for these pricing group values."
        ]
    }
    assert windows(card, product) == [(JAN, None, Decimal("150"))]


def test_a_bad_new_rate_ends_nothing(card, product):
    add(card, product, JAN, "150")

    with pytest.raises(ValidationError) as caught:
        add(card, product, MAR, "-1")

    assert caught.value.message_dict == {"price": ["A price cannot be negative."]}
    assert windows(card, product) == [(JAN, None, Decimal("150"))]


def test_add_many_applies_changes_in_order_and_all_or_none(card, product):
    group = {"pricing_group_values": {"model_name": "A"}, "entitled": True, "product": product}
    services.rates_add_many(
        rate_card=card,
        rates=[
            {**group, "rate_type": "FLAT", "price": Decimal("150"), "starting_at": JAN},
            {**group, "rate_type": "FLAT", "price": Decimal("120"), "starting_at": MAR},
        ],
    )
    assert windows(card, product) == [(JAN, MAR, Decimal("150")), (MAR, None, Decimal("120"))]

    with pytest.raises(ValidationError) as caught:
        services.rates_add_many(
            rate_card=card,
            rates=[
                {**group, "rate_type": "FLAT", "price": Decimal("110"), "starting_at": APR},
                {**group, "rate_type": "FLAT", "price": Decimal("100"), "starting_at": MAR},
            ],
        )
    assert list(caught.value.message_dict) == ["rates[1].starting_at"]
    assert windows(card, product) == [(JAN, MAR, Decimal("150")), (MAR, None, Decimal("120"))]


def test_rate_price_change_is_one_edit_keeping_everything_but_the_price(card):
    seats = ProductFactory(subscription=True)
    rate = services.rate_add(
        rate_card=card,
        product=seats,
        entitled=False,
        rate_type="SUBSCRIPTION",
        starting_at=JAN,
        price=Decimal("5000"),
        billing_frequency="MONTHLY",
        quantity=Decimal("3"),
        is_prorated=True,
    )

    new = services.rate_price_change(rate=rate, starting_at=MAR, price=Decimal("6000"))

    rate.refresh_from_db()
    assert rate.ending_before == MAR
    assert (new.starting_at, new.ending_before, new.price) == (MAR, None, Decimal("6000"))
    assert (new.entitled, new.billing_frequency, new.quantity, new.is_prorated) == (
        False,
        "MONTHLY",
        Decimal("3"),
        True,
    )


def test_latest_started_windows_gives_each_window_its_runs():
    runs = services.latest_started_windows([(JAN, None), (MAR, APR), (JUN, None)])

    assert runs == [[(JAN, MAR), (APR, JUN)], [(MAR, APR)], [(JUN, None)]]
