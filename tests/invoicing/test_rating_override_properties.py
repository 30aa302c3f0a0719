"""Properties of override targeting (hypothesis): a specifier's fields are AND-ed, so naming
one more tag, pricing or presentation pair never adds a target; and the engine prices exactly
the usage the specifier names."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from invoicing.rating import (
    Override,
    OverrideSpecifier,
    Period,
    PricingUnit,
    Product,
    Rate,
    RatingInput,
    Usage,
    group_values,
    override_targets,
    rate_invoice,
)

D = Decimal
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
TAGS = ["ai", "gpu", "inference", "eu", "beta"]
VALUES = ["a", "b", "c"]

tag_sets = st.frozensets(st.sampled_from(TAGS), max_size=4)
pairs = st.dictionaries(st.sampled_from(["region", "team"]), st.sampled_from(VALUES), max_size=2)
products = st.lists(tag_sets, min_size=1, max_size=6).map(
    lambda tag_lists: [
        Product(id=f"p{i}", name=f"P{i}", type="USAGE", tags=tuple(sorted(tags)))
        for i, tags in enumerate(tag_lists)
    ]
)


def _targets(override: Override, catalog, pricing, presentation) -> set[str]:
    return {
        product.id
        for product in catalog
        if override_targets(override, product, group_values(pricing), group_values(presentation))
    }


def _override(specifier: OverrideSpecifier) -> Override:
    return Override(id="o", starting_at=JAN_1, multiplier=D("0.5"), specifiers=(specifier,))


@given(products, tag_sets, st.sampled_from(TAGS), pairs, pairs)
def test_adding_a_tag_to_a_specifier_never_adds_a_target(
    catalog, tags, extra, pricing, presentation
):
    before = _override(OverrideSpecifier(product_tags=tuple(sorted(tags))))
    after = _override(OverrideSpecifier(product_tags=tuple(sorted(tags | {extra}))))

    assert _targets(after, catalog, pricing, presentation) <= _targets(
        before, catalog, pricing, presentation
    )


@given(products, tag_sets, pairs, pairs, pairs)
def test_adding_group_values_to_a_specifier_never_adds_a_target(
    catalog, tags, extra, pricing, presentation
):
    tagged = tuple(sorted(tags))
    before = _override(OverrideSpecifier(product_tags=tagged))
    after = _override(
        OverrideSpecifier(
            product_tags=tagged,
            pricing_group_values=group_values(extra),
            presentation_group_values=group_values(extra),
        )
    )

    assert _targets(after, catalog, pricing, presentation) <= _targets(
        before, catalog, pricing, presentation
    )


@given(products, tag_sets.filter(bool))
def test_the_engine_halves_exactly_the_products_carrying_every_tag(catalog, tags):
    override = _override(OverrideSpecifier(product_tags=tuple(sorted(tags))))
    result = rate_invoice(
        RatingInput(
            pricing_unit=PricingUnit(id="usd", name="USD (cents)"),
            period=Period(MAR_1, APR_1),
            products=tuple(catalog),
            rates=tuple(
                Rate(product_id=p.id, rate_type="FLAT", starting_at=JAN_1, price=D(100))
                for p in catalog
            ),
            usage=tuple(
                Usage(product_id=p.id, starting_at=MAR_1, ending_before=APR_1, quantity=D(1))
                for p in catalog
            ),
            overrides=(override,),
        )
    )

    halved = {line.product_id for line in result.lines if line.total == D(50)}
    assert halved == {p.id for p in catalog if tags <= set(p.tags)}
