"""API fields for amounts and quantities: exact Decimals within what the database stores
(`catalog.money`), written as JSON numbers (or, where Metronome answers one, a decimal string)."""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import money


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A JSON number (or numeric string) read as an exact Decimal; written as a JSON number."""

    default_error_messages = {
        "invalid": "Must be a number.",
        "min_value": "Must be at least {min_value}.",
        "max_value": "Must be at most {max_value}.",
        "max_places": "Use at most {places} decimal places.",
    }

    def __init__(self, *, min_value=None, max_value=None, integer: bool = False, **kwargs):
        self.min_value = None if min_value is None else Decimal(min_value)
        self.max_value = None if max_value is None else Decimal(max_value)
        self.integer = integer
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            value = money.to_decimal(data)
        except (TypeError, ValueError):
            self.fail("invalid")
        if self.integer and value != value.to_integral_value():
            self.fail("max_places", places=0)
        if -value.as_tuple().exponent > money.DECIMAL_PLACES:
            self.fail("max_places", places=money.DECIMAL_PLACES)
        if abs(value) >= Decimal(10) ** (money.MAX_DIGITS - money.DECIMAL_PLACES):
            self.fail("invalid")
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return value

    def to_representation(self, value):
        return money.to_json_number(value)


@extend_schema_field(OpenApiTypes.STR)
class DecimalStringField(serializers.Field):
    """A Decimal written as a decimal string ("0.5"); the one place Metronome answers a string."""

    def to_representation(self, value):
        return None if value is None else format(money.normalize(value), "f")

    def to_internal_value(self, data):
        return NumberField().to_internal_value(data)
