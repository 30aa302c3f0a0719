"""/v1/contract-pricing/rate-cards/* and rates (reference 3.5)."""

import pytest

from catalog.models import RateTier
from tests.api.conftest import UNKNOWN, USD, data, error
from tests.catalog.factories import ProductFactory

START = "2024-01-01T00:00:00Z"


@pytest.fixture
def usage(db):
    return ProductFactory(
        name="API calls", pricing_group_key=["model_name"], tags=["api"], custom_fields={"sku": "A"}
    )


@pytest.fixture
def credits_unit(post):
    return data(post("/v1/credit-types/create", {"name": "credits"}))


@pytest.fixture
def card(post, credits_unit):
    body = {
        "name": "Standard",
        "description": "List prices",
        "aliases": [{"name": "std"}, {"name": "std-2025", "starting_at": "2025-01-01T00:00:00Z"}],
        "credit_type_conversions": [
            {"custom_credit_type_id": credits_unit["id"], "fiat_per_custom_credit": 0.5}
        ],
        "custom_fields": {"tier": "list"},
    }
    return data(post("/v1/contract-pricing/rate-cards/create", body))


def flat(card, product, **extra):
    return {
        "rate_card_id": card["id"],
        "product_id": str(product.pk),
        "entitled": True,
        "rate_type": "FLAT",
        "price": 150,
        "pricing_group_values": {"model_name": "model-A"},
        "starting_at": START,
        **extra,
    }


def test_create_then_get(card, post, credits_unit):
    got = data(post("/v1/contract-pricing/rate-cards/get", {"id": card["id"]}))
    assert got["name"] == "Standard"
    assert got["description"] == "List prices"
    assert got["created_by"] == "api:tests"
    assert got["fiat_credit_type"] == {"id": USD, "name": "USD (cents)"}
    assert got["aliases"] == [
        {"name": "std"},
        {"name": "std-2025", "starting_at": "2025-01-01T00:00:00Z"},
    ]
    assert got["credit_type_conversions"] == [
        {
            "custom_credit_type": {"id": credits_unit["id"], "name": "credits"},
            "fiat_per_custom_credit": "0.5",
        }
    ]
    assert got["custom_fields"] == {"tier": "list"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name: This field is required."),
        ({"name": "X", "aliases": [{}]}, "aliases[0].name: This field is required."),
        (
            {"name": "X", "fiat_credit_type_id": "x"},
            "fiat_credit_type_id: 'x' is not a valid UUID.",
        ),
        (
            {
                "name": "X",
                "credit_type_conversions": [
                    {"custom_credit_type_id": USD, "fiat_per_custom_credit": 2}
                ],
            },
            "credit_type_conversions[0].custom_credit_type_id: Conversions are from a custom (non-fiat) pricing unit.",
        ),
    ],
)
def test_create_errors(post, body, message):
    assert error(post("/v1/contract-pricing/rate-cards/create", body), 400) == message


def test_a_custom_unit_cannot_be_the_fiat_unit(post, credits_unit):
    body = {"name": "X", "fiat_credit_type_id": credits_unit["id"]}
    assert error(post("/v1/contract-pricing/rate-cards/create", body), 400) == (
        "fiat_credit_type_id: A rate card's pricing unit must be a fiat currency."
    )


def test_an_alias_in_use_by_another_card_is_400(card, post):
    body = {"name": "Other", "aliases": [{"name": "std"}]}
    assert error(post("/v1/contract-pricing/rate-cards/create", body), 400) == (
        "aliases[0].name: The alias 'std' is already used by rate card 'Standard' at the same time."
    )


def test_list_accepts_no_body_and_pages(card, api_client, post):
    other = data(post("/v1/contract-pricing/rate-cards/create", {"name": "Other"}))
    first = api_client.post("/v1/contract-pricing/rate-cards/list?limit=1").json()
    assert [c["id"] for c in first["data"]] == [card["id"]]
    second = api_client.post(
        f"/v1/contract-pricing/rate-cards/list?limit=1&next_page={first['next_page']}"
    ).json()
    assert [c["id"] for c in second["data"]] == [other["id"]]
    assert second["next_page"] is None


def test_update_metadata_and_add_only_conversions(card, post, credits_unit):
    second_unit = data(post("/v1/credit-types/create", {"name": "gems"}))
    body = {
        "rate_card_id": card["id"],
        "name": "Standard 2",
        "aliases": [{"name": "standard"}],
        "add_credit_type_conversions": [
            {"custom_credit_type_id": second_unit["id"], "fiat_per_custom_credit": "1.25"}
        ],
    }
    assert data(post("/v1/contract-pricing/rate-cards/update", body)) == {"id": card["id"]}
    got = data(post("/v1/contract-pricing/rate-cards/get", {"id": card["id"]}))
    assert got["name"] == "Standard 2"
    assert got["description"] == "List prices"
    assert got["aliases"] == [{"name": "standard"}]
    assert [c["fiat_per_custom_credit"] for c in got["credit_type_conversions"]] == ["0.5", "1.25"]
    again = {
        "rate_card_id": card["id"],
        "add_credit_type_conversions": [
            {"custom_credit_type_id": credits_unit["id"], "fiat_per_custom_credit": 3}
        ],
    }
    assert error(post("/v1/contract-pricing/rate-cards/update", again), 400) == (
        "add_credit_type_conversions[0]: This rate card already converts that pricing unit."
    )


def test_archive_blocks_updates_and_new_rates(card, post, usage):
    assert data(post("/v1/contract-pricing/rate-cards/archive", {"id": card["id"]})) == card
    assert error(
        post("/v1/contract-pricing/rate-cards/update", {"rate_card_id": card["id"], "name": "x"}),
        400,
    ) == ("This rate card is archived; it cannot be updated.")
    assert error(post("/v1/contract-pricing/rate-cards/addRate", flat(card, usage)), 400) == (
        "rate_card_id: This rate card is archived; it takes no new rates."
    )
    assert card["id"] not in [c["id"] for c in data(post("/v1/contract-pricing/rate-cards/list"))]
    assert error(post("/v1/contract-pricing/rate-cards/archive", {"id": card["id"]}), 400) == (
        "This rate card is already archived."
    )


def test_get_unknown(post):
    assert error(post("/v1/contract-pricing/rate-cards/get", {"id": UNKNOWN}), 404) == (
        f"Rate card {UNKNOWN} not found."
    )


def test_add_rate_answers_the_stored_rate(card, post, usage):
    response = post(
        "/v1/contract-pricing/rate-cards/addRate",
        flat(card, usage, commit_rate={"rate_type": "flat", "price": 120}),
    )
    assert response.json() == {
        "data": {
            "rate_type": "FLAT",
            "price": 150,
            "credit_type": {"id": USD, "name": "USD (cents)"},
            "pricing_group_values": {"model_name": "model-A"},
            "commit_rate": {"rate_type": "FLAT", "price": 120},
        }
    }


def test_add_rates_stores_tiers_as_rows_and_answers_the_card(card, post, usage):
    body = {
        "rate_card_id": card["id"],
        "rates": [
            flat(
                card,
                usage,
                rate_type="TIERED",
                price=None,
                tiers=[{"price": 100, "size": 1000000}, {"price": "80.5"}],
            )
            | {"pricing_group_values": {"model_name": "model-B"}},
            flat(card, usage, price="0.0000015"),
        ],
    }
    for rate in body["rates"]:
        rate.pop("rate_card_id")
    body["rates"][0].pop("price")
    assert data(post("/v1/contract-pricing/rate-cards/addRates", body)) == {"id": card["id"]}
    tiers = RateTier.objects.order_by("level")
    assert [(t.level, t.size, t.price) for t in tiers] == [
        (1, 1000000, 100),
        (2, None, 80.5),
    ]
    rates = data(
        post("/v1/contract-pricing/rate-cards/getRates", {"rate_card_id": card["id"], "at": START})
    )
    assert [r["rate"].get("tiers") or r["rate"]["price"] for r in rates] == [
        0.0000015,
        [{"price": 100, "size": 1000000}, {"price": 80.5}],
    ]


def test_add_rates_is_all_or_nothing_and_names_the_rate(card, post, usage):
    body = {
        "rate_card_id": card["id"],
        "rates": [
            {k: v for k, v in flat(card, usage).items() if k != "rate_card_id"},
            {k: v for k, v in flat(card, usage, price=-1).items() if k != "rate_card_id"}
            | {"pricing_group_values": {"model_name": "model-B"}},
        ],
    }
    assert error(post("/v1/contract-pricing/rate-cards/addRates", body), 400) == (
        "rates[1].price: A price cannot be negative."
    )
    assert (
        data(
            post(
                "/v1/contract-pricing/rate-cards/getRates",
                {"rate_card_id": card["id"], "at": START},
            )
        )
        == []
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"entitled": None}, "entitled: This field may not be null."),
        ({"entitled": "yes"}, "entitled: Must be true or false."),
        (
            {"rate_type": "CUSTOM"},
            "rate_type: 'CUSTOM' is not one of FLAT, TIERED, PERCENTAGE, TIERED_PERCENTAGE, SUBSCRIPTION.",
        ),
        ({"price": None}, "price: A flat rate needs a price."),
        ({"price": "abc"}, "price: Must be a number."),
        (
            {"starting_at": "2024-01-01T00:30:00Z"},
            "starting_at: Must be on an hour boundary (minutes and seconds zero, UTC).",
        ),
        (
            {"ending_before": "2023-01-01T00:00:00Z"},
            "ending_before: A rate must start before it ends.",
        ),
        (
            {"pricing_group_values": {}},
            "pricing_group_values: Give a value for each pricing group key of the product (model_name).",
        ),
        ({"tiers": [{"price": 1}]}, "tiers: Only tiered rates have tiers."),
        (
            {"rate_type": "TIERED", "price": None, "tiers": [{"price": 1, "size": 5}]},
            "tiers: The last tier must be open-ended (leave its size empty).",
        ),
        (
            {"rate_type": "SUBSCRIPTION", "billing_frequency": "monthly"},
            "rate_type: A usage product takes a flat or tiered rate.",
        ),
        ({"custom_rate": {"a": 1}}, "custom_rate: Custom rates are not supported."),
        ({"credit_type_id": UNKNOWN}, f"Pricing unit {UNKNOWN} not found."),
    ],
)
def test_add_rate_errors(card, post, usage, extra, message):
    body = flat(card, usage) | extra
    status = 404 if "not found" in message else 400
    assert error(post("/v1/contract-pricing/rate-cards/addRate", body), status) == message


def test_a_second_rate_starting_at_the_same_instant_is_400(card, post, usage):
    data(post("/v1/contract-pricing/rate-cards/addRate", flat(card, usage)))
    assert error(
        post("/v1/contract-pricing/rate-cards/addRate", flat(card, usage, price=120)), 400
    ) == (
        "starting_at: This product already has a rate starting at that time for these pricing "
        "group values."
    )


def test_a_later_rate_changes_the_price_and_get_rates_answers_one_rate_at_each_instant(
    card, post, usage
):
    data(post("/v1/contract-pricing/rate-cards/addRate", flat(card, usage)))
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, price=120, starting_at="2024-06-01T00:00:00Z"),
        )
    )

    def at(moment):
        body = {"rate_card_id": card["id"], "at": moment}
        return [
            (r["rate"]["price"], r["starting_at"], r.get("ending_before"))
            for r in data(post("/v1/contract-pricing/rate-cards/getRates", body))
        ]

    assert at("2024-05-31T23:00:00Z") == [(150, START, "2024-06-01T00:00:00Z")]
    assert at("2024-06-01T00:00:00Z") == [(120, "2024-06-01T00:00:00Z", None)]


def test_a_custom_unit_rate_needs_a_conversion_on_the_card(post, usage, card):
    gems = data(post("/v1/credit-types/create", {"name": "gems"}))
    response = post(
        "/v1/contract-pricing/rate-cards/addRate", flat(card, usage, credit_type_id=gems["id"])
    )
    assert error(response, 400) == (
        "credit_type_id: This rate card has no conversion for the pricing unit 'gems'; add one first."
    )


def test_archived_product_takes_no_new_rates(card, post, usage):
    data(post("/v1/contract-pricing/products/archive", {"product_id": str(usage.pk)}))
    assert error(post("/v1/contract-pricing/rate-cards/addRate", flat(card, usage)), 400) == (
        "product_id: This product is archived; it takes no new rates."
    )


def test_get_rates_at_a_point_in_time_with_or_ed_selectors(card, post, usage):
    other = ProductFactory(name="Other", tags=["misc"])
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, ending_before="2024-02-01T00:00:00Z"),
        )
    )
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, price=120, starting_at="2024-02-01T00:00:00Z"),
        )
    )
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, price=30) | {"pricing_group_values": {"model_name": "model-B"}},
        )
    )
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, other, entitled=False, price=5) | {"pricing_group_values": {}},
        )
    )

    def prices(at, selectors=None):
        body = {
            "rate_card_id": card["id"],
            "at": at,
            **({"selectors": selectors} if selectors else {}),
        }
        return sorted(
            r["rate"]["price"] for r in data(post("/v1/contract-pricing/rate-cards/getRates", body))
        )

    assert prices("2024-01-15T00:00:00Z") == [5, 30, 150]
    assert prices("2024-02-01T00:00:00Z") == [5, 30, 120]
    assert prices(
        "2024-01-15T00:00:00Z", [{"pricing_group_values": {"model_name": "model-B"}}]
    ) == [30]
    assert prices(
        "2024-01-15T00:00:00Z",
        [{"product_tags": ["misc"]}, {"partial_pricing_group_values": {"model_name": "model-A"}}],
    ) == [5, 150]
    assert prices("2024-01-15T00:00:00Z", [{"product_id": str(other.pk)}]) == [5]
    entry = next(
        r
        for r in data(
            post(
                "/v1/contract-pricing/rate-cards/getRates",
                {"rate_card_id": card["id"], "at": "2024-01-15T00:00:00Z"},
            )
        )
        if r["rate"]["price"] == 150
    )
    assert entry == {
        "product_id": str(usage.pk),
        "product_name": "API calls",
        "product_tags": ["api"],
        "product_custom_fields": {"sku": "A"},
        "entitled": True,
        "rate": {
            "rate_type": "FLAT",
            "price": 150,
            "credit_type": {"id": USD, "name": "USD (cents)"},
            "pricing_group_values": {"model_name": "model-A"},
        },
        "starting_at": "2024-01-01T00:00:00Z",
        "ending_before": "2024-02-01T00:00:00Z",
        "pricing_group_values": {"model_name": "model-A"},
    }


def test_get_rates_errors(card, post):
    assert error(
        post("/v1/contract-pricing/rate-cards/getRates", {"rate_card_id": card["id"]}), 400
    ) == ("at: This field is required.")
    assert error(
        post("/v1/contract-pricing/rate-cards/getRates", {"rate_card_id": UNKNOWN, "at": START}),
        404,
    )


def test_get_rate_schedule_lists_every_segment_from_a_start(card, post, usage):
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, ending_before="2024-02-01T00:00:00Z"),
        )
    )
    data(
        post(
            "/v1/contract-pricing/rate-cards/addRate",
            flat(card, usage, price=120, starting_at="2024-02-01T00:00:00Z"),
        )
    )
    body = {"rate_card_id": card["id"], "starting_at": "2024-01-15T00:00:00Z"}
    response = post("/v1/contract-pricing/rate-cards/getRateSchedule", body).json()
    assert response["next_page"] is None
    assert [(r["rate"]["price"], r["starting_at"]) for r in response["data"]] == [
        (150, "2024-01-01T00:00:00Z"),
        (120, "2024-02-01T00:00:00Z"),
    ]
    body["ending_before"] = "2024-02-01T00:00:00Z"
    assert [
        r["rate"]["price"]
        for r in data(post("/v1/contract-pricing/rate-cards/getRateSchedule", body))
    ] == [150]
