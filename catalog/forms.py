"""Admin forms for the offering: metrics' filters as readable rules, rates with their tiers as rows.

The generic pieces (plain-text list fields, nested rows, plain decimals) live in
`core.admin_forms` and are re-exported here for the modules that imported them from here.
"""

import re
from decimal import Decimal

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html
from rest_framework.exceptions import APIException

from core.admin_forms import (  # noqa: F401  (re-exported)
    DECIMAL_OVERRIDES,
    KeySetsField,
    KeyValuesField,
    ModelErrorsMixin,
    NameListField,
    NestedRowsMixin,
    OrderedRowsFormSet,
    PlainDecimalField,
    nested_formfield,
    non_deleted_forms,
    ordered_rows_formset,
    split_names,
)
from core.exceptions import message_for

from . import money
from .api import package_document
from .models import (
    BillableMetric,
    CreditTypeConversion,
    Package,
    PricingUnit,
    Product,
    Rate,
    RateTier,
    tiers_problem,
)
from .selectors import rate_current
from .services import package_terms_stored, sql_metric_check

# ---------------------------------------------------------------------------------------------
# Money typed in the pricing unit's display unit


class MoneyInput(forms.TextInput):
    """A decimal box with the unit's symbol in front: `$ 0.02` for `USD (cents)`."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "class": "vMoneyField", **(attrs or {})})
        self.symbol = "$"

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        return format_html(
            '<span class="money-input"><span class="money-symbol">{}</span>{}</span>',
            self.symbol,
            box,
        )


def money_formfield(field: forms.Field, unit_name: str) -> forms.Field:
    """The same field, typed in the display unit (no digit limits: the model checks what is
    stored, after conversion)."""
    typed = PlainDecimalField(
        required=field.required,
        label=field.label,
        help_text=field.help_text,
        widget=MoneyInput(),
    )
    typed.widget.symbol = money.display_unit_label(unit_name)
    return typed


class MoneyFieldsMixin:
    """A form whose `money_fields` are typed in the pricing unit's display unit (dollars for
    `USD (cents)`, the unit itself for custom units) and stored in the unit (cents), converted
    once by `catalog.money`. The API keeps Metronome's stored amounts.

    The unit is the form's own `credit_type` when it has one, else the instance's
    (`unit_name_of_instance`), else `money_unit_name`, which a page or formset sets (a
    contract's pricing unit, a term's unit typed in its parent form). A field listed in
    `money_field_units` is in the unit another field of the form chooses instead (a recurring
    commit's access amount is in its own credit type, its invoice amount in the contract's).
    """

    money_fields: tuple[str, ...] = ()
    money_unit_name: str | None = None
    # {money field: the pricing unit field (a foreign key to PricingUnit) it is typed in}
    money_field_units: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.money_fields:
            if name not in self.fields or not self.money_applies(name, self.initial):
                continue
            unit_name = self.money_unit_of(name)
            self.fields[name] = money_formfield(self.fields[name], unit_name)
            if isinstance(self.initial.get(name), Decimal):
                self.initial[name] = money.to_display_amount(self.initial[name], unit_name)

    def money_unit_of(self, name: str, cleaned_data=None) -> str:
        """The unit money field `name` is typed in (from the cleaned data when given)."""
        unit_field = self.money_field_units.get(name)
        if unit_field is not None:
            chosen = (cleaned_data or {}).get(unit_field)
            if isinstance(chosen, PricingUnit):
                return chosen.name
            instance = getattr(self, "instance", None)
            if instance is not None and getattr(instance, f"{unit_field}_id", None):
                return getattr(instance, unit_field).name
            return money.USD_CENTS_NAME
        if cleaned_data is None:
            return self.unit_name_of_instance() or self.money_unit_name or money.USD_CENTS_NAME
        return self.unit_name_of_cleaned(cleaned_data)

    def unit_name_of_instance(self) -> str | None:
        instance = getattr(self, "instance", None)
        if instance is not None and getattr(instance, "credit_type_id", None):
            return instance.credit_type.name
        return None

    def unit_name_of_cleaned(self, cleaned_data) -> str:
        unit = cleaned_data.get("credit_type")
        if isinstance(unit, PricingUnit):
            return unit.name
        return self.unit_name_of_instance() or self.money_unit_name or money.USD_CENTS_NAME

    def money_applies(self, name: str, values) -> bool:
        """Whether `name` holds money in these values (a percentage rate's price does not)."""
        return True

    def clean(self):
        cleaned_data = super().clean()
        for name in self.money_fields:
            value = cleaned_data.get(name)
            if isinstance(value, Decimal) and self.money_applies(name, cleaned_data):
                cleaned_data[name] = money.from_display_amount(
                    value, self.money_unit_of(name, cleaned_data)
                )
        return cleaned_data


class MoneyRowsMixin:
    """A formset whose forms type money (`MoneyFieldsMixin`): `set_money_unit` tells them the unit
    their parent form chose."""

    money_unit_name: str | None = None

    def set_money_unit(self, unit_name: str | None) -> None:
        self.money_unit_name = unit_name
        for form in self.forms:
            form.money_unit_name = unit_name

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        if self.money_unit_name:
            form.money_unit_name = self.money_unit_name
        return form


# ---------------------------------------------------------------------------------------------
# Property filters (billable metrics)


PROPERTY_FILTER_HELP = (
    "One rule per line, all must pass: <code>num_tokens exists</code>, "
    "<code>debug does not exist</code>, <code>region in us-east, us-west</code>, "
    "<code>plan not in free, trial</code>."
)
_FILTER_LINE = re.compile(
    r"^(?P<name>.+?)\s+(?P<op>exists|does not exist|not in|in)(?:\s+(?P<values>.*))?$",
    re.IGNORECASE,
)


def property_filters_to_text(filters) -> str:
    lines = []
    for rule in filters or []:
        name = rule.get("name", "")
        if rule.get("exists") is True or set(rule) == {"name"}:
            lines.append(f"{name} exists")
        elif rule.get("exists") is False:
            lines.append(f"{name} does not exist")
        if rule.get("in_values"):
            lines.append(f"{name} in {', '.join(rule['in_values'])}")
        if rule.get("not_in_values"):
            lines.append(f"{name} not in {', '.join(rule['not_in_values'])}")
    return "\n".join(lines)


class PropertyFiltersField(forms.Field):
    """A metric's property filters, one readable rule per line, merged per property name."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value):
        if isinstance(value, list):
            return property_filters_to_text(value)
        return value

    def to_python(self, value) -> list[dict]:
        if isinstance(value, list):
            return value
        rules: dict[str, dict] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            match = _FILTER_LINE.match(line)
            if not match:
                raise ValidationError(
                    f'Line {number}: write "<property> exists", "<property> does not exist", '
                    '"<property> in a, b" or "<property> not in a, b".'
                )
            name, op = match["name"].strip(), match["op"].lower()
            values = split_names(match["values"] or "")
            rule = rules.setdefault(name, {"name": name})
            if op in ("exists", "does not exist"):
                if values:
                    raise ValidationError(f"Line {number}: nothing may follow '{op}'.")
                rule["exists"] = op == "exists"
            else:
                if not values:
                    raise ValidationError(f"Line {number}: list the values after '{op}'.")
                key = "in_values" if op == "in" else "not_in_values"
                rule.setdefault(key, []).extend(values)
        return list(rules.values())


# ---------------------------------------------------------------------------------------------
# Billable metrics


class BillableMetricForm(ModelErrorsMixin, forms.ModelForm):
    """Create a metric: event types and filters as text, group keys one set per line."""

    event_types_in = NameListField(
        required=False,
        label="Event types (in)",
        help_text="Comma separated; the event type must be one of these. Empty: any type.",
    )
    event_types_not_in = NameListField(
        required=False,
        label="Event types (not in)",
        help_text="Comma separated; the event type must not be one of these.",
    )
    property_filters = PropertyFiltersField(required=False, help_text=PROPERTY_FILTER_HELP)
    group_keys = KeySetsField(
        required=False,
        help_text="One key set per line, keys separated by commas, e.g. <code>model_name</code> "
        "then <code>model_name, user_id</code>.",
    )
    sql = forms.CharField(
        required=False,
        label="SQL",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90, "class": "vLargeTextField"}),
        help_text="Instead of the fields above: a query over the <code>events</code> table, e.g. "
        "<code>SELECT COUNT(DISTINCT properties.user_id) AS value FROM events WHERE "
        "event_type = 'api_call'</code>. Its other columns are the group keys.",
    )
    model_error_fields = {"event_type_filter": "event_types_in"}
    definition_fields = (
        "aggregation_type",
        "aggregation_key",
        "event_types_in",
        "event_types_not_in",
        "property_filters",
        "group_keys",
    )

    class Meta:
        model = BillableMetric
        fields = [
            "name",
            "aggregation_type",
            "aggregation_key",
            "property_filters",
            "group_keys",
            "sql",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types_in"].initial = self.instance.event_types_in
        self.fields["event_types_not_in"].initial = self.instance.event_types_not_in
        # A SQL metric has no aggregation; the others need one (checked in clean()).
        self.fields["aggregation_type"].required = False

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("sql"):
            return self._clean_sql(cleaned_data)
        if not cleaned_data.get("aggregation_type") and "aggregation_type" not in self.errors:
            self.add_error("aggregation_type", "Choose an aggregation, or give a SQL query.")
        etf = {}
        if cleaned_data.get("event_types_in"):
            etf["in_values"] = cleaned_data["event_types_in"]
        if cleaned_data.get("event_types_not_in"):
            etf["not_in_values"] = cleaned_data["event_types_not_in"]
        self.instance.event_type_filter = etf
        return cleaned_data

    def _clean_sql(self, cleaned_data):
        """A SQL metric: the query checked as the API checks it (parser, whitelist, the
        database's own objections); its definition is the query's, nothing else."""
        given = [name for name in self.definition_fields if cleaned_data.get(name)]
        if given:
            self.add_error(
                "sql",
                "A SQL metric's definition is its query: leave "
                + ", ".join(self.fields[name].label or name for name in given)
                + " empty.",
            )
            return cleaned_data
        try:
            parsed = sql_metric_check(cleaned_data["sql"])
        except ValidationError as exc:
            self.add_error(None, exc)
            return cleaned_data
        self.instance.aggregation_type = BillableMetric.AggregationType.COUNT
        self.instance.aggregation_key = ""
        self.instance.event_type_filter = {}
        self.instance.property_filters = []
        cleaned_data["aggregation_type"] = BillableMetric.AggregationType.COUNT
        cleaned_data["group_keys"] = [list(parsed.group_keys)] if parsed.group_keys else []
        return cleaned_data


class BillableMetricRenameForm(ModelErrorsMixin, forms.ModelForm):
    """After creation only the name changes."""

    class Meta:
        model = BillableMetric
        fields = ["name"]


# ---------------------------------------------------------------------------------------------
# Products and packages


class ProductForm(ModelErrorsMixin, forms.ModelForm):
    pricing_group_key = NameListField(
        required=False, help_text="Comma separated: the keys that pick a rate (usage products)."
    )
    presentation_group_key = NameListField(
        required=False,
        help_text="Comma separated: keys shown as separate lines, priced alike. Pricing and "
        "presentation keys together must be a subset of one of the metric's key sets.",
    )
    tags = NameListField(required=False, help_text="Comma separated.")
    composite_tags = NameListField(
        required=False, help_text="Composite products: charge a share of products with these tags."
    )

    class Meta:
        model = Product
        fields = [
            "name",
            "type",
            "billable_metric",
            "pricing_group_key",
            "presentation_group_key",
            "quantity_conversion_factor",
            "quantity_conversion_operation",
            "quantity_conversion_name",
            "quantity_rounding_decimal_places",
            "quantity_rounding_method",
            "display_unit",
            "composite_products",
            "composite_tags",
            "exclude_free_usage",
            "is_refundable",
            "tags",
            "custom_fields",
        ]


class PackageForm(ModelErrorsMixin, forms.ModelForm):
    """A new package. Its terms JSON is checked as `/v1/packages/create` checks them (the same
    serializers and term checks), each problem named by its field, and stored as the API
    stores it."""

    aliases = NameListField(required=False, help_text="Comma separated.")

    def clean(self):
        cleaned = super().clean()
        terms, rate_card = cleaned.get("terms"), cleaned.get("rate_card")
        if terms is not None and rate_card is not None:
            try:
                checked = package_document.package_terms_document(terms, rate_card)
                cleaned["terms"] = package_terms_stored(checked)
            except APIException as exc:
                self.add_error("terms", message_for(exc.detail))
        return cleaned

    class Meta:
        model = Package
        fields = [
            "name",
            "rate_card",
            "aliases",
            "duration_unit",
            "duration_value",
            "usage_statement_frequency",
            "usage_statement_day",
            "net_payment_terms_days",
            "multiplier_override_prioritization",
            "contract_name",
            "terms",
            "uniqueness_key",
        ]


# ---------------------------------------------------------------------------------------------
# Rates and tiers


UNUSUAL_PRICE_RATIO = Decimal(10)
# Rate types whose price (or tier prices) is a 0-1 fraction of spend, not money.
PERCENTAGE_TYPES = (Rate.RateType.PERCENTAGE, Rate.RateType.TIERED_PERCENTAGE)


class RateForm(MoneyFieldsMixin, ModelErrorsMixin, forms.ModelForm):
    pricing_group_values = KeyValuesField(
        required=False,
        help_text="For products with pricing group keys, e.g. <code>model_name=model-A</code>.",
    )
    confirm_unusual_price = forms.BooleanField(
        required=False,
        label="Confirm an unusual price",
        help_text="Needed when the price is 10x or more away from the product's current price.",
    )
    money_fields = ("price", "commit_rate_price", "composite_minimum")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "price" in self.fields:
            self.fields["price"].help_text = (
                "In dollars for USD (cents): 0.02 is two cents (in the unit itself for custom "
                "units). Per unit for flat rates, per period for subscriptions; for percentage "
                "rates a 0-1 fraction (0.1 is 10%)."
            )
        if "composite_scope" in self.fields:
            # Only composite rates have a scope: a form that leaves it out means the contract's.
            self.fields["composite_scope"].required = False

    def clean_composite_scope(self):
        return self.cleaned_data.get("composite_scope") or Rate.CompositeScope.CONTRACT

    def money_applies(self, name: str, values) -> bool:
        return name != "price" or values.get("rate_type") not in PERCENTAGE_TYPES

    def clean(self):
        cleaned_data = super().clean()
        problem = self.unusual_price(cleaned_data)
        if problem and not cleaned_data.get("confirm_unusual_price"):
            self.add_error("confirm_unusual_price", problem)
        return cleaned_data

    def unusual_price(self, cleaned_data) -> str | None:
        card = cleaned_data.get("rate_card") or getattr(self.instance, "rate_card", None)
        return unusual_price_problem(
            rate_card=card,
            product=cleaned_data.get("product"),
            rate_type=cleaned_data.get("rate_type"),
            pricing_group_values=cleaned_data.get("pricing_group_values") or {},
            price=cleaned_data.get("price"),
        )


def unusual_price_problem(
    *, rate_card, product, rate_type, pricing_group_values: dict, price: Decimal | None
) -> str | None:
    """Why a flat or subscription price looks like a typing slip: 10x or more away from the
    product's current price on the same card (the same pricing group values)."""
    if price is None or product is None or rate_card is None or rate_card.pk is None:
        return None
    if rate_type not in (Rate.RateType.FLAT, Rate.RateType.SUBSCRIPTION):
        return None
    current = rate_current(
        rate_card=rate_card,
        product=product,
        pricing_group_values=pricing_group_values,
        at=timezone.now(),
    )
    if current is None or not current.price or current.rate_type != rate_type:
        return None
    ratio = price / current.price
    if 1 / UNUSUAL_PRICE_RATIO < ratio < UNUSUAL_PRICE_RATIO:
        return None
    unit = current.credit_type
    factor = f"{money.normalize(ratio):f}x" if ratio >= 1 else f"1/{money.normalize(1 / ratio):f}"
    return (
        f"{unit.format(price)} is {factor} the current price of {product} on this card "
        f"({unit.format(current.price)}). Tick “Confirm an unusual price” to save it anyway."
    )

    class Meta:
        model = Rate
        fields = [
            "rate_card",
            "product",
            "entitled",
            "rate_type",
            "starting_at",
            "ending_before",
            "price",
            "pricing_group_values",
            "credit_type",
            "billing_frequency",
            "quantity",
            "is_prorated",
            "commit_rate_type",
            "commit_rate_price",
            "composite_minimum",
            "composite_scope",
        ]


class MoneyColumnsMixin:
    """Ordered rows (`OrderedRowsFormSet`) with money columns (`money_columns`), typed in the
    display unit: the unit of the parent instance (`unit_name_of_parent`) for stored rows, the
    one the parent form chose (`money_unit_name`, set before validation) for typed rows."""

    money_columns: tuple[str, ...] = ()
    money_unit_name: str | None = None

    def unit_name_of_parent(self) -> str | None:
        unit_id = getattr(self.instance, "credit_type_id", None)
        return self.instance.credit_type.name if unit_id else None

    def _display_unit_name(self) -> str:
        return self.money_unit_name or self.unit_name_of_parent() or money.USD_CENTS_NAME

    def rows_are_money(self, *, stored: bool) -> bool:
        """Hook: whether the money columns hold money (the stored rows' parent, or the typed
        rows' parent form, may say they hold fractions instead)."""
        return True

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if self.rows_are_money(stored=True):
            for name in self.money_columns:
                form.fields[name] = money_formfield(form.fields[name], self._display_unit_name())

    def row_for_display(self, values: dict) -> dict:
        return self._converted(values, money.to_display_amount, stored=True)

    def row_for_storage(self, values: dict) -> dict:
        return self._converted(values, money.from_display_amount, stored=False)

    def _converted(self, values: dict, convert, *, stored: bool) -> dict:
        if not self.rows_are_money(stored=stored):
            return values
        unit_name = self._display_unit_name()
        return {
            name: convert(value, unit_name) if name in self.money_columns else value
            for name, value in values.items()
        }


class TierRowsFormSet(MoneyColumnsMixin, OrderedRowsFormSet):
    """A rate's graduated tiers as rows: size (empty on the last) and price."""

    row_model = RateTier
    parent_field = "rate"
    row_fields = ("size", "price")
    row_filter = {"for_commit_rate": False}
    show_when = (("rate_type", "TIERED"), ("rate_type", "TIERED_PERCENTAGE"))
    help_text = (
        "Graduated: each unit is priced by the tier its position in the billing period falls in. "
        "Sizes count the product's quantity after its conversion; prices are per unit, in dollars "
        "for USD (cents) (0.02 is two cents). Leave the last size empty."
    )
    money_columns = ("price",)
    rate_type: str | None = None

    def rows_are_money(self, *, stored: bool) -> bool:
        rate_type = self.instance.rate_type if stored else self.rate_type
        return rate_type not in PERCENTAGE_TYPES

    def problem(self, rows):
        if self.rate_type not in Rate.TIERED_TYPES:
            if rows:
                return (
                    "Tier rows are only for tiered rates: choose Tiered as the rate type, "
                    "or clear the tier rows."
                )
            return None
        problem = tiers_problem(rows)
        if problem is None and self.rate_type == Rate.RateType.TIERED_PERCENTAGE:
            for level, (_, price) in enumerate(rows, start=1):
                if price > 1:
                    return f"Tier {level}: a percentage is a fraction between 0 and 1."
        return problem


RateTierRowsFormSet = ordered_rows_formset(TierRowsFormSet)


class RateWithTiersForm(NestedRowsMixin, RateForm):
    """A rate on the rate card page, with its tiers typed as rows under it."""

    nested_formsets = (("tiers", "Tiers", RateTierRowsFormSet),)

    def prepare_nested(self, cleaned_data):
        self.tiers_formset.rate_type = cleaned_data.get("rate_type")
        self.tiers_formset.money_unit_name = self.unit_name_of_cleaned(cleaned_data)


class RateInlineFormSet(BaseInlineFormSet):
    """The rates of one rate card: two rates typed in one save must not overlap either."""

    def clean(self):
        super().clean()
        live = [
            form
            for form in non_deleted_forms(self)
            if not form.errors and form.instance.starting_at and form.instance.product_id
        ]
        for index, first in enumerate(live):
            for second in live[index + 1 :]:
                if not (first.has_changed() or second.has_changed()):
                    continue
                a, b = first.instance, second.instance
                same = (
                    a.product_id == b.product_id
                    and (a.pricing_group_values or {}) == (b.pricing_group_values or {})
                    and a.billing_frequency == b.billing_frequency
                )
                if same and _overlap(a, b):
                    raise ValidationError(
                        f"Two rates for {a.product} with the same pricing group values overlap in "
                        f"time (from {a.starting_at:%Y-%m-%d %H:%M} and from "
                        f"{b.starting_at:%Y-%m-%d %H:%M}). End one before the other starts."
                    )


def _overlap(a, b) -> bool:
    a_before_b_ends = b.ending_before is None or a.starting_at < b.ending_before
    b_before_a_ends = a.ending_before is None or b.starting_at < a.ending_before
    return a_before_b_ends and b_before_a_ends


class RateTierForm(MoneyFieldsMixin, forms.ModelForm):
    """A tier on a rate's own page: its price typed in the rate's display unit."""

    money_fields = ("price",)

    class Meta:
        model = RateTier
        fields = ["for_commit_rate", "level", "size", "price"]

    def unit_name_of_instance(self) -> str | None:
        rate = self.instance.rate if self.instance.rate_id else None
        return rate.credit_type.name if rate is not None else None


class CreditTypeConversionForm(MoneyFieldsMixin, forms.ModelForm):
    """How much one custom unit is worth, typed in the card's fiat display unit ($ per credit)."""

    money_fields = ("fiat_per_custom_credit",)

    class Meta:
        model = CreditTypeConversion
        fields = ["custom_credit_type", "fiat_per_custom_credit"]

    def unit_name_of_instance(self) -> str | None:
        if self.instance.rate_card_id:
            return self.instance.rate_card.fiat_credit_type.name
        return None


class RateTierInlineFormSet(MoneyRowsMixin, BaseInlineFormSet):
    """Tiers on a rate's own page (list rate and commit rate), numbered by level."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.credit_type_id:
            self.money_unit_name = self.instance.credit_type.name

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rate = self.instance
        for for_commit_rate, wanted in (
            (False, rate.rate_type in Rate.TIERED_TYPES),
            (True, rate.commit_rate_type == "TIERED"),
        ):
            rows = sorted(
                (
                    form.cleaned_data
                    for form in non_deleted_forms(self)
                    if form.cleaned_data.get("for_commit_rate", False) == for_commit_rate
                ),
                key=lambda row: row.get("level") or 0,
            )
            label = "Commit rate tiers" if for_commit_rate else "Tiers"
            if not wanted:
                if rows:
                    raise ValidationError(
                        f"{label} are only for a tiered {'commit ' if for_commit_rate else ''}"
                        "rate: choose Tiered, or delete the tier rows."
                    )
                continue
            if [row.get("level") for row in rows] != list(range(1, len(rows) + 1)):
                raise ValidationError(f"{label}: number the levels 1, 2, 3 … without gaps.")
            problem = tiers_problem([(row.get("size"), row.get("price")) for row in rows])
            if problem:
                raise ValidationError(f"Commit rate: {problem}" if for_commit_rate else problem)


class RatePriceChangeForm(MoneyFieldsMixin, NestedRowsMixin, forms.Form):
    """The quickstart's "Edit the rate to change the rate and select the start date of the new
    rate": a new price (or new tiers) and the moment it starts, in one edit; the current rate ends
    there (`services.rate_price_change`)."""

    starting_at = forms.SplitDateTimeField(
        label="New price from (UTC)",
        widget=admin_widgets.AdminSplitDateTime,
        help_text="On an hour boundary. The current rate ends here and the new price starts.",
    )
    price = forms.DecimalField(required=False, label="New price")
    confirm_unusual_price = forms.BooleanField(
        required=False,
        label="Confirm an unusual price",
        help_text="Needed when the price is 10x or more away from the product's current price.",
    )
    nested_formsets = (("tiers", "New tiers", RateTierRowsFormSet),)
    money_fields = ("price",)

    def __init__(self, *args, rate: Rate, **kwargs):
        self.instance = rate
        super().__init__(*args, **kwargs)
        if rate.rate_type in Rate.TIERED_TYPES:
            del self.fields["price"], self.fields["confirm_unusual_price"]
        else:
            self.nested = []

    def money_applies(self, name: str, values) -> bool:
        return self.instance.rate_type not in PERCENTAGE_TYPES

    def prepare_nested(self, cleaned_data):
        self.tiers_formset.rate_type = self.instance.rate_type
        self.tiers_formset.money_unit_name = self.instance.credit_type.name

    def clean(self):
        cleaned_data = super().clean()
        rate = self.instance
        if "price" in self.fields and cleaned_data.get("price") is None:
            self.add_error("price", "Give the new price.")
        problem = unusual_price_problem(
            rate_card=rate.rate_card,
            product=rate.product,
            rate_type=rate.rate_type,
            pricing_group_values=rate.pricing_group_values,
            price=cleaned_data.get("price"),
        )
        if problem and not cleaned_data.get("confirm_unusual_price"):
            self.add_error("confirm_unusual_price", problem)
        return cleaned_data

    def tiers(self) -> list:
        return self.tiers_formset.rows() if self.nested else []
