"""Golden invoices with contract terms end to end: the world (commits, credits, overrides, custom
pricing units and conversions) built through the ORM, events through POST /v1/ingest, the draft
read through the API, finalization, the persisted lines compared with the file, and the ledger
written once.

A golden segment's `available` (and a postpaid commit's `drawn_before`) stands for what earlier
invoices drew: it becomes one automated deduction entry in the ledger, dated at the period start.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from catalog.models import CreditTypeConversion, PricingUnit, Rate, RateCard, RateTier
from catalog.money import to_decimal
from customers.models import (
    AccessSegment,
    BalanceLedgerEntry,
    Commit,
    CommitInvoiceItem,
    Contract,
    Credit,
    Override,
    OverrideTier,
)
from invoicing.models import Invoice
from invoicing.services import invoice_finalize
from tests.invoicing.golden_support import canonical_line, case_paths, load_case, parse_time
from tests.invoicing.golden_world import (
    World,
    build_world,
    case_draft,
    line_item_as_case,
    sort_key,
)
from tests.invoicing.test_golden_e2e import check_scheduled_invoices, send_events

TERMS_CASES = [path for path in case_paths(with_terms=True) if path not in set(case_paths())]

DEDUCTION = {
    "PREPAID": BalanceLedgerEntry.Type.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    "POSTPAID": BalanceLedgerEntry.Type.POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION,
    "CREDIT": BalanceLedgerEntry.Type.CREDIT_AUTOMATED_INVOICE_DEDUCTION,
}


def _decimal(value):
    return None if value is None else to_decimal(value)


def _custom_units(case, world: World) -> dict[str, PricingUnit]:
    units = {}
    for data in case.get("custom_pricing_units") or ():
        unit = PricingUnit.objects.create(
            name=data["name"], is_currency=False, decimal_places=int(data["decimal_places"])
        )
        units[data["id"]] = unit
        world.ids[data["id"]] = str(unit.pk)
    return units


def _rate_terms(case, world: World, units: dict[str, PricingUnit]) -> None:
    """Commit rates and custom units of the golden rates (build_world made them in fiat)."""
    card = RateCard.objects.get(pk=world.ids[case["rate_card"]["id"]])
    for data in (case.get("rate_card") or {}).get("credit_type_conversions") or ():
        CreditTypeConversion.objects.create(
            rate_card=card,
            custom_credit_type=units[data["custom_credit_type_id"]],
            fiat_per_custom_credit=to_decimal(data["fiat_per_custom_credit"]),
        )
    for data in case["rates"]:
        commit_rate = data.get("commit_rate") or {}
        if not commit_rate and not data.get("credit_type_id"):
            continue
        rate = Rate.objects.get(
            rate_card=card,
            product_id=world.ids[data["product_id"]],
            starting_at=parse_time(data["starting_at"]),
            pricing_group_values=data.get("pricing_group_values") or {},
        )
        if data.get("credit_type_id"):
            rate.credit_type = units[data["credit_type_id"]]
        if commit_rate:
            rate.commit_rate_type = commit_rate["rate_type"]
            rate.commit_rate_price = _decimal(commit_rate.get("price"))
            for level, tier in enumerate(commit_rate.get("tiers") or (), start=1):
                RateTier.objects.create(
                    rate=rate,
                    level=level,
                    for_commit_rate=True,
                    size=_decimal(tier.get("size")),
                    price=to_decimal(tier["price"]),
                )
        rate.save()


def _balance(data, model, world: World, units, *, contract_level: bool, period_start):
    access = data["access_schedule"]
    unit_id = access.get("credit_type_id")
    fields = {
        "customer": world.customer,
        "contract": world.contract if contract_level else None,
        "product_id": world.ids[data["product_id"]],
        "name": data.get("name") or "",
        "priority": to_decimal(data.get("priority") or "0"),
        "rate_type": data.get("rate_type") or "LIST_RATE",
        "access_type": access.get("access_type") or "SPEND",
        "applicable_product_tags": data.get("applicable_product_tags") or [],
        "specifiers": [
            {**spec, "product_id": world.ids[spec["product_id"]]} if "product_id" in spec else spec
            for spec in data.get("specifiers") or ()
        ],
        "custom_fields": data.get("custom_fields") or {},
    }
    if unit_id:
        fields["credit_type"] = units[unit_id]
    if model is Commit:
        fields["type"] = data["type"]
        if not contract_level and data.get("invoice_contract_id"):
            fields["invoice_contract"] = world.contract  # the case's one contract
    term = model.objects.create(**fields)
    world.ids[data["id"]] = str(term.pk)
    if data.get("applicable_product_ids"):
        term.applicable_products.set([world.ids[pid] for pid in data["applicable_product_ids"]])
    owner = "commit" if model is Commit else "credit"
    kind = data["type"] if model is Commit else "CREDIT"
    for item in access["schedule_items"]:
        amount = to_decimal(item["amount"])
        segment = AccessSegment.objects.create(
            **{owner: term},
            amount=amount,
            starting_at=parse_time(item["starting_at"]),
            ending_before=parse_time(item["ending_before"]),
        )
        if item.get("available") is not None and to_decimal(item["available"]) != amount:
            BalanceLedgerEntry.objects.create(
                **{owner: term},
                segment=segment,
                type=DEDUCTION[kind],
                amount=to_decimal(item["available"]) - amount,
                timestamp=period_start,
                invoice_id=uuid.uuid4(),
                contract=world.contract,
            )
    for item in (data.get("invoice_schedule") or {}).get("schedule_items") or ():
        CommitInvoiceItem.objects.create(
            commit=term,
            timestamp=parse_time(item["timestamp"]),
            amount=_decimal(item.get("amount")),
            unit_price=_decimal(item.get("unit_price")),
            quantity=_decimal(item.get("quantity")),
        )
    if data.get("rolled_over_from"):
        term.rolled_over_from = _rollover_source(term, model, world)
        term.save(update_fields=["rolled_over_from"])
    return term


def _rollover_source(term, model, world: World):
    """What a rollover balance of the case (Metronome's `rolled_over_from`) rolled over from: a
    balance of an earlier contract of the customer that ended when this one started. The amount
    that rolled over is the new balance's own segment, so the source's is 0."""
    start = world.contract.starting_at
    earlier, _ = Contract.objects.get_or_create(
        customer=world.customer,
        ending_before=start,
        defaults={
            "rate_card": world.contract.rate_card,
            "starting_at": start.replace(year=start.year - 1),
            "name": "Earlier contract",
        },
    )
    fields = {"type": term.type} if model is Commit else {}
    source = model.objects.create(
        customer=term.customer,
        contract=earlier,
        product=term.product,
        name=f"{term.name} (earlier)",
        rollover_fraction=1,
        **fields,
    )
    owner = "commit" if model is Commit else "credit"
    AccessSegment.objects.create(
        **{owner: source}, amount=0, starting_at=earlier.starting_at, ending_before=start
    )
    return source


def _override(data, world: World, units) -> Override:
    specifiers = data.get("override_specifiers") or ()
    if len(specifiers) > 1:
        pytest.skip("several override specifiers: the Override model holds one target")
    spec = specifiers[0] if specifiers else {}
    product_id = data.get("product_id") or spec.get("product_id")
    overwrite = data.get("overwrite_rate") or {}
    override = Override.objects.create(
        contract=world.contract,
        type=data["type"],
        starting_at=parse_time(data["starting_at"]),
        ending_before=parse_time(data["ending_before"]) if data.get("ending_before") else None,
        product_id=world.ids[product_id] if product_id else None,
        applicable_product_tags=data.get("applicable_product_tags")
        or spec.get("product_tags")
        or [],
        tags_match="ALL" if specifiers else "ANY",
        pricing_group_values=spec.get("pricing_group_values") or {},
        presentation_group_values=spec.get("presentation_group_values") or {},
        billing_frequency=spec.get("billing_frequency") or "",
        commit_ids=[world.ids[cid] for cid in spec.get("commit_ids") or ()],
        multiplier=_decimal(data.get("multiplier")),
        overwrite_rate_type=overwrite.get("rate_type") or "",
        overwrite_price=_decimal(overwrite.get("price")),
        overwrite_credit_type=units.get(overwrite.get("credit_type_id")),
        entitled=data.get("entitled"),
        priority=_decimal(data.get("priority")),
        is_commit_specific=data.get("is_commit_specific", False),
        target=data.get("target") or "",
    )
    world.ids[data["id"]] = str(override.pk)
    tiers = data.get("tiers") or overwrite.get("tiers") or ()
    for level, tier in enumerate(tiers, start=1):
        OverrideTier.objects.create(
            override=override,
            level=level,
            size=_decimal(tier.get("size")),
            multiplier=_decimal(tier.get("multiplier")),
            price=_decimal(tier.get("price")),
        )
    return override


def build_terms_world(case) -> World:
    """`build_world` and then the case's terms, through the ORM."""
    world = build_world(case)
    period_start = parse_time(case["period"]["starting_at"])
    units = _custom_units(case, world)
    _rate_terms(case, world, units)
    contract_data = case["contract"]
    prioritization = contract_data.get("multiplier_override_prioritization")
    if prioritization:
        world.contract.multiplier_override_prioritization = prioritization
        world.contract.save(update_fields=["multiplier_override_prioritization"])
    for data in contract_data.get("commits") or ():
        _balance(data, Commit, world, units, contract_level=True, period_start=period_start)
    for data in contract_data.get("credits") or ():
        _balance(data, Credit, world, units, contract_level=True, period_start=period_start)
    for data in case.get("customer_commits") or ():
        _balance(data, Commit, world, units, contract_level=False, period_start=period_start)
    for data in case.get("customer_credits") or ():
        _balance(data, Credit, world, units, contract_level=False, period_start=period_start)
    # Overrides last: commit-specific ones name commits by their new ids.
    for data in contract_data.get("overrides") or ():
        _override(data, world, units)
    return world


def line_as_case_with_terms(line, world: World, fiat_id) -> dict:
    data = line_item_as_case(line, world)
    data["credit_type_id"] = (
        None if str(line.credit_type_id) == str(fiat_id) else world.golden_id(line.credit_type_id)
    )
    data["commit_id"] = world.golden_id(line.commit_id) if line.commit_id else None
    data["applied_commit_or_credit"] = (
        {
            "id": world.golden_id(line.applied_commit_or_credit_id),
            "type": line.applied_commit_or_credit_type,
        }
        if line.applied_commit_or_credit_id
        else None
    )
    data["balance_remaining"] = line.balance_remaining
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("path", TERMS_CASES, ids=lambda path: path.stem)
def test_golden_case_with_terms_end_to_end(path, api_client, monkeypatch):
    case = load_case(path)
    world = build_terms_world(case)
    period_start = parse_time(case["period"]["starting_at"])
    period_end = parse_time(case["period"]["ending_before"])
    draft = case_draft(world, period_start)
    assert draft.end_timestamp == period_end

    send_events(api_client, monkeypatch, world, case["events"])

    expected_lines = sorted(
        (canonical_line(line) for line in case["expected"]["lines"]), key=sort_key
    )
    read = api_client.get(f"/v1/customers/{world.customer.id}/invoices/{draft.id}")
    assert read.status_code == 200
    on_read = read.json()["data"]
    assert on_read["status"] == "DRAFT"
    assert Decimal(str(on_read["total"])) == Decimal(case["expected"]["total"])
    assert len(on_read["line_items"]) == len(expected_lines)

    ledger_before = BalanceLedgerEntry.objects.count()
    outcome = invoice_finalize(invoice=draft, now=period_end + timedelta(days=2))
    invoice = Invoice.objects.get(pk=outcome.invoice.pk)
    assert invoice.status == "FINALIZED"
    got = sorted(
        (
            canonical_line(line_as_case_with_terms(line, world, invoice.credit_type_id))
            for line in invoice.line_items.all()
        ),
        key=sort_key,
    )
    assert got == expected_lines
    assert invoice.subtotal == Decimal(case["expected"]["subtotal"])
    assert invoice.total == Decimal(case["expected"]["total"])

    # The ledger: one deduction per drawn segment, written once.
    applications = [line for line in invoice.line_items.all() if line.applied_commit_or_credit_id]
    written = list(BalanceLedgerEntry.objects.filter(invoice_id=invoice.pk))
    deductions = [entry for entry in written if entry.type.endswith("_INVOICE_DEDUCTION")]
    # A QUANTITY balance's deduction is its units (the application's quantity), not money.
    by_units = {
        pk
        for model in (Commit, Credit)
        for pk in model.objects.filter(access_type="QUANTITY").values_list("pk", flat=True)
    }
    assert sum((e.amount for e in deductions), Decimal(0)) == sum(
        (
            -line.quantity if line.applied_commit_or_credit_id in by_units else line.total
            for line in applications
        ),
        Decimal(0),
    )
    assert BalanceLedgerEntry.objects.count() == ledger_before + len(written)
    invoice_finalize(invoice=invoice, now=period_end + timedelta(days=3))
    assert BalanceLedgerEntry.objects.filter(invoice_id=invoice.pk).count() == len(written)

    # Scheduled invoices (commit purchases): their own lines, and nothing in the ledger.
    ledger_before = BalanceLedgerEntry.objects.count()
    check_scheduled_invoices(
        case,
        world,
        api_client,
        lambda line: line_as_case_with_terms(line, world, invoice.credit_type_id),
    )
    assert BalanceLedgerEntry.objects.count() == ledger_before
