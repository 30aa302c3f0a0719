"""A price change through the SDK (strict): addRate / addRates with a later `starting_at` takes
over from that start, and getRates answers exactly one rate per product and pricing group values
at every instant."""

from datetime import UTC, datetime

import metronome
import pytest

JUN = datetime(2024, 6, 1, tzinfo=UTC)


def eu_rates_at(client, world, at):
    return [
        (r.rate.price, r.starting_at, r.ending_before)
        for r in client.v1.contracts.rate_cards.rates.list(
            rate_card_id=world["rate_card"],
            at=at,
            selectors=[{"pricing_group_values": {"region": "eu"}}],
        )
    ]


def add_eu_rate(client, world, price, starting_at):
    return client.v1.contracts.rate_cards.rates.add(
        rate_card_id=world["rate_card"],
        product_id=world["product"],
        entitled=True,
        rate_type="FLAT",
        price=price,
        pricing_group_values={"region": "eu"},
        starting_at=starting_at,
    ).data


def test_add_rate_with_a_later_start_changes_the_price(client, world):
    # The world's eu rate: 250 from 2024-01-01, open-ended.
    added = add_eu_rate(client, world, 200, JUN)

    assert (added.rate_type, added.price) == ("FLAT", 200)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    assert eu_rates_at(client, world, datetime(2024, 5, 31, 23, tzinfo=UTC)) == [(250, first, JUN)]
    assert eu_rates_at(client, world, JUN) == [(200, JUN, None)]


def test_add_rates_takes_a_schedule_of_prices_in_one_call(client, world):
    later = datetime(2025, 1, 1, tzinfo=UTC)
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=world["rate_card"],
        rates=[
            {
                "product_id": world["product"],
                "entitled": True,
                "rate_type": "FLAT",
                "price": price,
                "pricing_group_values": {"region": "eu"},
                "starting_at": at,
            }
            for price, at in [(225, JUN), (200, later)]
        ],
    )

    assert eu_rates_at(client, world, datetime(2024, 7, 1, tzinfo=UTC)) == [(225, JUN, later)]
    assert eu_rates_at(client, world, later) == [(200, later, None)]
    schedule = client.v1.contracts.rate_cards.retrieve_rate_schedule(
        rate_card_id=world["rate_card"],
        starting_at=datetime(2024, 1, 1, tzinfo=UTC),
        selectors=[{"pricing_group_values": {"region": "eu"}}],
    )
    assert [(r.rate.price, r.starting_at) for r in schedule.data] == [
        (250, datetime(2024, 1, 1, tzinfo=UTC)),
        (225, JUN),
        (200, later),
    ]


def test_a_rate_starting_at_the_same_instant_is_refused(client, world):
    with pytest.raises(metronome.BadRequestError) as raised:
        add_eu_rate(client, world, 200, datetime(2024, 1, 1, tzinfo=UTC))
    assert raised.value.body == {
        "message": (
            "starting_at: This product already has a rate starting at that time for these "
            "pricing group values."
        )
    }
