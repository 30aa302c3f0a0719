"""Metronome's commit and credit `specifiers` (`CommitSpecifierInput`): the request serializer,
the stored form, and the response form (`CommitSpecifier`).

A commit, credit, recurring commit or credit, or threshold commit with specifiers is drawn only by
usage meeting ANY of them; one is met when ALL its given fields match. Metronome: "This field
cannot be used together with `applicable_product_ids` or `applicable_product_tags`."
"""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import Product
from core.api import StringListField, StringMapField, UUIDStringField, get_or_404

FIELDS = ("product_id", "product_tags", "pricing_group_values", "presentation_group_values")


class CommitSpecifierIn(serializers.Serializer):
    product_id = UUIDStringField(required=False)
    product_tags = StringListField(required=False)
    pricing_group_values = StringMapField(required=False)
    presentation_group_values = StringMapField(required=False)

    def validate(self, attrs):
        if not any(attrs.get(name) for name in FIELDS):
            raise serializers.ValidationError(
                "Give at least one of product_id, product_tags, pricing_group_values or "
                "presentation_group_values."
            )
        return attrs


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def specifiers_field(**kwargs) -> CommitSpecifierIn:
    return CommitSpecifierIn(many=True, required=False, **kwargs)


def stored(term: dict, where: str) -> list[dict]:
    """The term's validated `specifiers` as stored (products checked: 404 when unknown), refused
    beside applicable_product_ids or applicable_product_tags."""
    given = term.get("specifiers") or []
    if given and (term.get("applicable_product_ids") or term.get("applicable_product_tags")):
        raise serializers.ValidationError(
            {
                _at(where, "specifiers"): "Cannot be used with applicable_product_ids "
                "or applicable_product_tags; put the product and tags in the specifiers."
            }
        )
    result = []
    for index, specifier in enumerate(given):
        item: dict = {}
        if specifier.get("product_id"):
            product = get_or_404(
                Product,
                specifier["product_id"],
                field=_at(where, f"specifiers[{index}].product_id"),
                label="Product",
            )
            item["product_id"] = str(product.pk)
        for name in FIELDS[1:]:
            if specifier.get(name):
                value = specifier[name]
                item[name] = list(value) if name == "product_tags" else dict(value)
        result.append(item)
    return result


def as_json(specifiers) -> list[dict] | None:
    """Stored specifiers in the SDK's `CommitSpecifier` shape; None when there are none."""
    if not specifiers:
        return None
    return [{name: item[name] for name in FIELDS if item.get(name)} for item in specifiers]
