"""What a package's later contract terms say, in words, for its read-only admin page: recurring
commits and credits, threshold billing, specifiers, discounts, professional services and reseller
royalties (the whole document stays below as JSON)."""

from __future__ import annotations

from decimal import Decimal

from .. import money
from ..models import PricingUnit, Product


def _offset(offset: dict) -> str:
    unit = offset["unit"].lower()
    value = int(offset["value"])
    return f"{value} {unit[:-1] if value == 1 else unit}"


def _start(offset: dict | None) -> str:
    if not offset or not int(offset["value"]):
        return "the contract start"
    return f"{_offset(offset)} after the contract start"


def _money(amount, unit_id) -> str:
    unit = PricingUnit.objects.filter(pk=unit_id or money.USD_CENTS_ID).first()
    return money.format_money(Decimal(str(amount)), unit.name if unit else money.USD_CENTS_NAME)


def _product(pk) -> str:
    return Product.objects.filter(pk=pk).values_list("name", flat=True).first() or str(pk)


def _scope(term: dict) -> str:
    if term.get("specifiers"):
        return f", for usage matching {len(term['specifiers'])} specifier(s)"
    if term.get("applicable_product_ids") or term.get("applicable_product_tags"):
        return ", for some products"
    return ""


def _units(amount: Decimal, term: dict) -> str:
    """A QUANTITY balance's amount: units of the usage products it names."""
    named = term.get("applicable_product_ids") or [
        s["product_id"] for s in term.get("specifiers") or () if s.get("product_id")
    ]
    return f"{money.normalize(amount):,f} units of {', '.join(_product(pk) for pk in named)}"


def _recurring(kind: str, term: dict) -> str:
    access = term["access_amount"]
    amount = Decimal(str(access["unit_price"])) * Decimal(str(access.get("quantity", 1)))
    worth = (
        _units(amount, term)
        if access.get("access_type") == "QUANTITY"
        else _money(amount, access.get("credit_type_id"))
    )
    text = (
        f"Recurring {kind} '{term.get('name') or _product(term['product_id'])}': {worth} each "
        f"{(term.get('recurrence_frequency') or 'billing period').lower()}, lasting "
        f"{term['commit_duration']['value']} period(s), from {_start(term['starting_at_offset'])}"
    )
    if term.get("duration"):
        text += f" for {_offset(term['duration'])}"
    invoice = term.get("invoice_amount")
    if invoice:
        price = Decimal(str(invoice["unit_price"])) * Decimal(str(invoice["quantity"]))
        text += f", invoiced {_money(price, invoice.get('credit_type_id'))}"
    for part, rounding in (term.get("proration_rounding") or {}).items():
        if rounding:
            text += (
                f", prorated {part} amounts rounded {rounding['rounding_method']} to "
                f"{rounding['decimal_places']} places"
            )
    config = term.get("subscription_config")
    if config:
        text += (
            f", per unit of subscription '{config['subscription_id']}' "
            f"({config.get('allocation', 'POOLED').lower()})"
        )
    return f"{text}; priority {term['priority']}{_scope(term)}"


def _seats(term: dict) -> str:
    config = term["seat_config"]
    return (
        f"Seat-based subscription '{term.get('temporary_id') or term.get('name') or ''}': seats "
        f"named by the event property {config['seat_group_key']}, starting with "
        f"{config.get('initial_unassigned_seats', 0)} unassigned seat(s)"
    )


def _threshold(name: str, config: dict) -> str:
    unit = config.get("custom_credit_type_id")
    commit = config["commit"]
    if "recharge_to_amount" in config:
        text = (
            f"Auto-recharge: below {_money(config['threshold_amount'], unit)}, buy back up to "
            f"{_money(config['recharge_to_amount'], unit)}"
        )
    else:
        text = f"Spend threshold: bill every {_money(config['threshold_amount'], unit)} spent"
    text += f" as '{commit.get('name') or _product(commit['product_id'])}'"
    extras = [
        f"{label} {commit[key]}"
        for key, label in (
            ("priority", "priority"),
            ("rate_type", "drawn at"),
            ("rollover_fraction", "rolls over"),
        )
        if key in commit
    ]
    if commit.get("duration"):
        extras.append(f"usable for {_offset(commit['duration'])}")
    gate = config["payment_gate_config"]["payment_gate_type"]
    if gate != "NONE":
        extras.append(f"{gate} payment gate")
    if not config.get("is_enabled"):
        extras.append("disabled")
    return text + (f" ({', '.join(extras)})" if extras else "") + _scope(commit)


def summaries(terms: dict) -> list[str]:
    """One sentence per later term of the package document `terms`."""
    lines = [
        _seats(t)
        for t in terms.get("subscriptions", [])
        if t.get("quantity_management_mode") == "SEAT_BASED"
    ]
    lines += [_recurring("commit", t) for t in terms.get("recurring_commits", [])]
    lines += [_recurring("credit", t) for t in terms.get("recurring_credits", [])]
    for name in ("prepaid_balance_threshold_configuration", "spend_threshold_configuration"):
        if terms.get(name):
            lines.append(_threshold(name, terms[name]))
    for kind in ("commits", "credits"):
        for term in terms.get(kind, []):
            label = term.get("name") or _product(term["product_id"])
            access = term.get("access_schedule") or {}
            if access.get("access_type") == "QUANTITY":
                held = sum(
                    (Decimal(str(i["amount"])) for i in access.get("schedule_items", [])),
                    Decimal(0),
                )
                lines.append(
                    f"{kind[:-1].capitalize()} '{label}' holds {_units(held, term)}: usage "
                    "draws the units used (QUANTITY)"
                )
            if term.get("specifiers"):
                lines.append(
                    f"{kind[:-1].capitalize()} '{label}' is drawn only by usage matching "
                    f"{len(term['specifiers'])} specifier(s)"
                )
    for term in terms.get("discounts", []):
        items = term.get("schedule", {}).get("schedule_items", [])
        unit = term.get("schedule", {}).get("credit_type_id")
        when = ", ".join(
            f"{_money(Decimal(str(i['unit_price'])) * Decimal(str(i['quantity'])), unit)} at "
            f"{_start(i['date_offset'])}"
            for i in items
        )
        lines.append(f"Discount '{term.get('name') or _product(term['product_id'])}': {when}")
    for term in terms.get("professional_services", []):
        lines.append(
            f"Professional service '{term.get('description') or _product(term['product_id'])}': "
            f"{term['quantity']} x {_money(term['unit_price'], None)}, at most "
            f"{_money(term['max_amount'], None)}"
        )
    for term in terms.get("reseller_royalties", []):
        share = Decimal(str(term.get("fraction", "0"))) * 100
        lines.append(
            f"{term['reseller_type']} reseller royalty {money.normalize(share):f}% from "
            f"{_start(term.get('starting_at_offset'))}"
            + (f" for {_offset(term['duration'])}" if term.get("duration") else "")
        )
    if terms.get("scheduled_charges_on_usage_invoices"):
        lines.append("Scheduled charges go on the usage invoice (ALL)")
    return lines
