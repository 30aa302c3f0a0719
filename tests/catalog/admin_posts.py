"""POST data for the rate card admin page, as a browser sends it (inline formsets, nested tier rows)."""

from datetime import UTC, datetime

from catalog import money
from catalog.models import Product, Rate

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def split_datetime(name: str, value: datetime | None) -> dict[str, str]:
    """The admin's date and time inputs for one datetime field."""
    if value is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    return {f"{name}_0": f"{value:%Y-%m-%d}", f"{name}_1": f"{value:%H:%M:%S}"}


def rate_rows(
    index: int,
    *,
    product: Product,
    rate_type: str = "FLAT",
    price: str = "",
    group_values: str = "",
    tiers: list[tuple[str, str]] = (),
    starting_at: datetime = JAN,
    ending_before: datetime | None = None,
    rate: Rate | None = None,
    stored_tiers: int = 0,
    blank_tier_rows: int = 1,
) -> dict[str, str]:
    """One rate of the rate card form, with its tier rows (`stored_tiers` of them already saved)."""
    prefix = f"rates-{index}"
    data = {
        f"{prefix}-product": str(product.pk),
        f"{prefix}-rate_type": rate_type,
        f"{prefix}-pricing_group_values": group_values,
        **split_datetime(f"{prefix}-starting_at", starting_at),
        **split_datetime(f"{prefix}-ending_before", ending_before),
        f"{prefix}-price": price,
        f"{prefix}-credit_type": money.USD_CENTS_ID,
        f"{prefix}-billing_frequency": "",
        f"{prefix}-quantity": "",
        f"{prefix}-entitled": "on",
        f"{prefix}-commit_rate_type": "",
        f"{prefix}-commit_rate_price": "",
        **management(
            f"{prefix}-tiers",
            total=max(len(tiers), stored_tiers) + blank_tier_rows,
            initial=stored_tiers,
        ),
    }
    if rate is not None:
        data[f"{prefix}-id"] = str(rate.pk)
        data[f"{prefix}-rate_card"] = str(rate.rate_card_id)
    for row in range(max(len(tiers), stored_tiers)):
        size, tier_price = tiers[row] if row < len(tiers) else ("", "")
        data[f"{prefix}-tiers-{row}-size"] = size
        data[f"{prefix}-tiers-{row}-price"] = tier_price
    return data


def rate_card_data(name: str, rates: list[dict], *, stored_rates: int = 0) -> dict[str, str]:
    data = {
        "name": name,
        "description": "",
        "fiat_credit_type": money.USD_CENTS_ID,
        "custom_fields": "{}",
        **management("rates", total=len(rates), initial=stored_rates),
        **management("aliases", total=0),
        **management("credit_type_conversions", total=0),
    }
    for rate in rates:
        data.update(rate)
    return data


def page_errors(response) -> list[str]:
    """Every error message an admin add/change page shows (plain text, unescaped)."""
    forms = [response.context["adminform"].form]
    messages = []
    for inline in response.context["inline_admin_formsets"]:
        messages.extend(inline.formset.non_form_errors())
        forms.extend(inline.formset.forms)
    for form in forms:
        for errors in form.errors.values():
            messages.extend(errors)
    return messages
