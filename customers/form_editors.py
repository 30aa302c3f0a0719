"""Structured admin editors for two things the API takes as nested JSON, so that finance staff
never type JSON:

- a commit's or credit's `specifiers` (`SpecifierRowsField`): one row per specifier, with a
  product chosen from a list, product tags (comma separated) and pricing / presentation group
  values (`key=value, ...`); a blank row is no specifier. Stored exactly as the API stores them.
- a `recurring_schedule` (`RecurringScheduleFormMixin`): frequency, amount distribution, start,
  end and the amount (or unit price and quantity), on a commit's invoice schedule, a scheduled
  charge or a discount. Saving adds the dated items it stands for, made by the same code as the
  API's (`customers.services.RecurringScheduleSpec`, i.e. `customers.recurring`). On a credit
  (`AccessRepeatFormMixin`) each date becomes an access segment lasting until the next.

Server-rendered: plain inputs in a table, no script needed.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from catalog import money
from catalog.models import Product
from core.admin_forms import KeyValuesField, PlainDecimalField, split_names

from . import services
from .models import AccessSegment, Credit

# --- Specifiers --------------------------------------------------------------------------------------

COLUMNS = (
    ("product_id", "Product"),
    ("product_tags", "Product tags"),
    ("pricing_group_values", "Pricing group values"),
    ("presentation_group_values", "Presentation group values"),
)
BLANK_ROWS = 2
_VALUES = KeyValuesField()


def _typed(row: dict) -> dict:
    """A specifier (stored, or as typed) as the row's input values (strings)."""
    typed = {}
    for name, _ in COLUMNS:
        value = row.get(name) or ""
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, dict):
            value = _VALUES.prepare_value(value)
        typed[name] = str(value)
    return typed


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class SpecifierRowsWidget(forms.Widget):
    """One table row per specifier and two blank rows; inputs named `<name>-<row>-<column>`."""

    def value_from_datadict(self, data, files, name):
        rows = []
        while f"{name}-{len(rows)}-product_id" in data:
            index = len(rows)
            rows.append({col: data.get(f"{name}-{index}-{col}", "") for col, _ in COLUMNS})
        return rows

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-0-product_id" not in data

    @staticmethod
    def _options(products: list[tuple[str, str]], chosen: str):
        options = [("", "Any product"), *products]
        if chosen and chosen not in {pk for pk, _ in options}:
            options.append((chosen, chosen))
        return format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((pk, " selected" if pk == chosen else "", label) for pk, label in options),
        )

    def render(self, name, value, attrs=None, renderer=None):
        rows = [_typed(row) for row in (value or []) if isinstance(row, dict)]
        rows += [_typed({}) for _ in range(BLANK_ROWS)]
        products = [
            (str(pk), label)
            for pk, label in Product.objects.filter(archived_at__isnull=True)
            .order_by("name")
            .values_list("pk", "name")
        ]
        body = []
        for index, row in enumerate(rows):
            cells = [
                format_html(
                    '<td><select name="{}-{}-product_id" aria-label="Specifier {} product">{}'
                    "</select></td>",
                    name,
                    index,
                    index + 1,
                    self._options(products, row["product_id"]),
                )
            ]
            for column, label in COLUMNS[1:]:
                cells.append(
                    format_html(
                        '<td><input type="text" name="{}-{}-{}" value="{}" size="24" '
                        'aria-label="Specifier {} {}"></td>',
                        name,
                        index,
                        column,
                        row[column],
                        index + 1,
                        label.lower(),
                    )
                )
            body.append(
                format_html("<tr>{}</tr>", format_html_join("", "{}", ((c,) for c in cells)))
            )
        head = format_html_join("", "<th>{}</th>", ((label,) for _, label in COLUMNS))
        return format_html(
            '<table class="specifier-rows"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            head,
            format_html_join("", "{}", ((row,) for row in body)),
        )


SPECIFIER_ROWS_HELP = (
    "Usage meeting ANY row draws the balance; a row is met when ALL its filled columns match. "
    "Tags comma separated; group values as key=value, comma separated. A blank row is ignored; "
    "clear a row to remove it."
)


class SpecifierRowsField(forms.Field):
    """A commit's or credit's specifiers, typed as rows (`SpecifierRowsWidget`)."""

    widget = SpecifierRowsWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", SPECIFIER_ROWS_HELP)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[dict]:
        specifiers = []
        for index, row in enumerate(value or []):
            if not isinstance(row, dict):
                raise ValidationError("A list of specifiers.")
            typed = _typed(row)
            if not any(v.strip() for v in typed.values()):
                continue
            specifier: dict = {}
            try:
                product = typed["product_id"].strip()
                if product:
                    if not _is_uuid(product) or not Product.objects.filter(pk=product).exists():
                        raise ValidationError(f"No product {product}.")
                    specifier["product_id"] = product
                tags = split_names(typed["product_tags"])
                if tags:
                    specifier["product_tags"] = tags
                for name in ("pricing_group_values", "presentation_group_values"):
                    values = _VALUES.to_python(typed[name])
                    if values:
                        specifier[name] = values
            except ValidationError as error:
                raise ValidationError(f"Specifier {index + 1}: {error.messages[0]}") from None
            specifiers.append(specifier)
        return specifiers

    def prepare_value(self, value):
        return value if isinstance(value, list) else []


# --- Recurring schedules -----------------------------------------------------------------------------

DISTRIBUTIONS = [
    ("EACH", "Each date: the whole amount"),
    ("DIVIDED", "Divided equally among the dates"),
    ("DIVIDED_ROUNDED", "Divided, in whole smallest amounts (the last takes the rest)"),
]
FREQUENCIES = [
    ("", "No recurring schedule"),
    ("MONTHLY", "Monthly"),
    ("QUARTERLY", "Quarterly"),
    ("SEMI_ANNUAL", "Semi-annual"),
    ("ANNUAL", "Annual"),
]
RECURRING_FIELDS = (
    "recurring_frequency",
    "recurring_distribution",
    "recurring_starting_at",
    "recurring_ending_before",
    "recurring_amount",
    "recurring_unit_price",
    "recurring_quantity",
)


def _moment_field(label: str) -> forms.SplitDateTimeField:
    return forms.SplitDateTimeField(
        required=False, label=label, widget=admin_widgets.AdminSplitDateTime
    )


class RecurringScheduleFormMixin(forms.Form):
    """A form of a term with dated items, plus a recurring schedule that adds items on save.

    Subclasses set `recurring_item_model` (the item model) and `recurring_owner` (its foreign
    key to the term) and say which contract invoices the items (`recurring_contract`).
    """

    recurring_frequency = forms.ChoiceField(
        choices=FREQUENCIES,
        required=False,
        label="Repeat",
        help_text="Adds a dated item on the start and every period after it, before the end.",
    )
    recurring_distribution = forms.ChoiceField(
        choices=DISTRIBUTIONS, required=False, initial="EACH", label="Amount"
    )
    recurring_starting_at = _moment_field("Repeat from")
    recurring_ending_before = _moment_field("Repeat until (exclusive)")
    recurring_amount = PlainDecimalField(required=False, label="Repeated amount")
    recurring_unit_price = PlainDecimalField(required=False, label="or unit price")
    recurring_quantity = PlainDecimalField(required=False, label="and quantity")

    recurring_item_model: type
    recurring_owner: str

    def recurring_contract(self, cleaned_data):
        return cleaned_data.get("contract") or getattr(self.instance, "contract", None)

    def recurring_unit(self, cleaned_data):
        """The pricing unit the repeated amount is typed in: the invoicing contract's."""
        contract = self.recurring_contract(cleaned_data)
        return contract.rate_card.fiat_credit_type if contract is not None else None

    def recurring_in_units(self, cleaned_data) -> bool:
        """Whether the repeated amount is units (typed and kept as they are), not money."""
        return False

    def recurring_row(self, item, following):
        """The row an item of the schedule becomes (`following`: the next item's date, or the
        schedule's end)."""
        return self.recurring_item_model(
            timestamp=item.timestamp,
            amount=item.amount,
            unit_price=item.unit_price,
            quantity=item.quantity,
            **{self.recurring_owner: self.instance},
        )

    def _recurring_spec(self, cleaned_data) -> services.RecurringScheduleSpec | None:
        frequency = cleaned_data.get("recurring_frequency")
        if not frequency:
            return None
        start = cleaned_data.get("recurring_starting_at")
        end = cleaned_data.get("recurring_ending_before")
        amount = cleaned_data.get("recurring_amount")
        unit_price = cleaned_data.get("recurring_unit_price")
        quantity = cleaned_data.get("recurring_quantity")
        if start is None:
            self.add_error("recurring_starting_at", "Give the first date.")
        if end is None:
            self.add_error("recurring_ending_before", "Give the end.")
        elif start is not None and end <= start:
            self.add_error("recurring_ending_before", "Must be after the first date.")
        priced = unit_price is not None or quantity is not None
        if (amount is not None) == priced or (priced and (unit_price is None or quantity is None)):
            self.add_error("recurring_amount", "Give an amount, or a unit price and a quantity.")
        if amount is not None and amount < 0:
            self.add_error("recurring_amount", "Cannot be negative.")
        if self.errors:
            return None
        unit = self.recurring_unit(cleaned_data)
        unit_name = unit.name if unit is not None else money.USD_CENTS_NAME

        def stored(value):
            if value is None or self.recurring_in_units(cleaned_data):
                return value
            return money.from_display_amount(value, unit_name)

        return services.RecurringScheduleSpec(
            amount_distribution=cleaned_data.get("recurring_distribution") or "EACH",
            starting_at=start,
            ending_before=end,
            frequency=frequency,
            amount=stored(amount),
            unit_price=stored(unit_price),
            quantity=quantity,
        )

    def clean(self):
        cleaned_data = super().clean()
        self.recurring_items = []
        spec = self._recurring_spec(cleaned_data)
        if spec is not None:
            unit = self.recurring_unit(cleaned_data)
            places = unit.decimal_places if unit is not None else money.DECIMAL_PLACES
            if self.recurring_in_units(cleaned_data):
                places = 0  # DIVIDED_ROUNDED: whole units, the last date taking the rest
            self.recurring_items = spec.items(places)
            self.recurring_end = spec.ending_before
        return cleaned_data

    def _save_m2m(self):
        super()._save_m2m()
        items = getattr(self, "recurring_items", [])
        for index, item in enumerate(items):
            following = items[index + 1].timestamp if index + 1 < len(items) else self.recurring_end
            row = self.recurring_row(item, following)
            row.full_clean(exclude=[self.recurring_owner])
            row.save()
        self.recurring_items = []


class AccessRepeatFormMixin(RecurringScheduleFormMixin):
    """A credit's Repeat: each date of the schedule grants an access segment of the amount, in
    the credit's own unit, usable until the next date (the last until the schedule's end): 100
    monthly from January until April is three segments of 100, January, February and March."""

    recurring_item_model = AccessSegment
    recurring_owner = "credit"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recurring_frequency"].help_text = (
            "Adds an access segment on the start and every period after it, each usable until "
            "the next (the last until the end)."
        )

    def recurring_unit(self, cleaned_data):
        return cleaned_data.get("credit_type") or (
            self.instance.credit_type if self.instance.credit_type_id else None
        )

    def recurring_in_units(self, cleaned_data) -> bool:
        """A QUANTITY credit's segments hold units."""
        access_type = cleaned_data.get("access_type") or self.instance.access_type
        return access_type == Credit.AccessType.QUANTITY

    def recurring_row(self, item, following):
        amount = item.amount if item.amount is not None else item.unit_price * item.quantity
        return AccessSegment(
            amount=amount, starting_at=item.timestamp, ending_before=following, credit=self.instance
        )


# How an admin lays the recurring schedule out (three lines), and leaves it out for a reader
# (`ReadOnlyNamesMixin.read_only_shown_as`: form-only fields).
RECURRING_LAYOUT = [
    ("recurring_frequency", "recurring_distribution"),
    ("recurring_starting_at", "recurring_ending_before"),
    ("recurring_amount", "recurring_unit_price", "recurring_quantity"),
]
RECURRING_HIDDEN_FROM_READERS: dict[str, None] = dict.fromkeys(RECURRING_FIELDS)
