"""Issue 14's contract terms as golden cases a person can check by hand
(`tests/invoicing/golden_contract_terms/`): through the pure engine from the file, and end to end
(the world in the database, the terms made by the services the API calls, the events through
/v1/ingest, the draft read through the API and finalized)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from catalog.models import Product
from customers import services
from customers.models import Commit, Subscription
from invoicing.models import Invoice
from invoicing.rating import (
    balance_excluded,
    discount_split,
    rate_invoice,
    recharge_amount,
    spend_threshold_amount,
)
from invoicing.services import invoice_finalize
from invoicing.threshold_billing import contract_thresholds_check
from tests.invoicing.golden_contract_terms_support import (
    bought_commits,
    terms_case_paths,
    terms_rating_input,
    terms_scheduled_input,
    tracked_before,
)
from tests.invoicing.golden_support import (
    canonical_line,
    line_as_case,
    load_case,
    parse_time,
)
from tests.invoicing.golden_world import case_draft, line_item_as_case, sort_key
from tests.invoicing.test_golden_e2e import send_events
from tests.invoicing.test_golden_e2e_terms import build_terms_world

CASES = terms_case_paths()


def _lines(lines) -> list[dict]:
    return [canonical_line(line) for line in lines]


def test_every_term_of_issue_14_has_a_case():
    keys = {key for path in CASES for key in load_case(path)["contract"]}
    assert {
        "discounts",
        "professional_services",
        "seat_subscriptions",
        "recurring_credits",
        "recurring_commits",
        "spend_threshold_configuration",
        "prepaid_balance_threshold_configuration",
        "spend_trackers",
    } <= keys


def _before(case, at) -> list:
    return [event for event in case["events"] if parse_time(event["timestamp"]) < at]


def _check_thresholds_pure(case) -> None:
    """Each threshold check of the case, by the engine's arithmetic: what the draft owed (spend)
    or what the prepaid balances held (recharge) at that moment, with the usage before it and
    the commits bought earlier, and what that buys."""
    for check in case.get("threshold_checks") or ():
        at = parse_time(check["at"])
        config = case["contract"][check["configuration"]]
        draft = rate_invoice(terms_rating_input(case, before=at, events=_before(case, at)))
        bought = Decimal(check["bought"]["amount"]) if check.get("bought") else Decimal(0)
        threshold = Decimal(config["threshold_amount"])
        cap = (config.get("discount_configuration") or {}).get("cap")
        if cap and check.get("bought"):
            discounted, _ = discount_split(
                amount=bought,
                tracked=tracked_before(case, cap["spend_tracker_alias"], at),
                cap=Decimal(cap["amount"]),
            )
            assert discounted == Decimal(check["bought"]["discounted_amount"])
        if check["configuration"] == "spend_threshold_configuration":
            assert draft.total == Decimal(check["owed"])
            assert spend_threshold_amount(owed=draft.total, threshold=threshold) == bought
        else:
            left = _watched_left(case, config, at, draft)
            assert left == Decimal(check["left"])
            recharge_to = Decimal(config["recharge_to_amount"])
            assert recharge_amount(left=left, threshold=threshold, recharge_to=recharge_to) == (
                bought
            )


def _watched_left(case, config, at, draft) -> Decimal:
    """What the prepaid balances an auto-recharge watches hold at `at`: those in its unit (its
    custom unit, else fiat), the commits bought so far and the case's prepaid commits and
    credits live then, but not those its threshold balance specifiers exclude; minus what the
    draft draws from them."""
    unit = config.get("custom_credit_type_id")
    contract = case["contract"]
    own = [(term, False) for term in contract.get("commits") or () if term["type"] == "PREPAID"] + [
        (term, True) for term in contract.get("credits") or ()
    ]
    watched = [
        term
        for term, is_credit in own
        if term["access_schedule"].get("credit_type_id") == unit
        and not balance_excluded(
            config.get("threshold_balance_specifiers") or (),
            is_credit=is_credit,
            custom_fields=term.get("custom_fields") or {},
        )
    ] + bought_commits(case, at)
    held = sum(
        (
            Decimal(item["amount"])
            for term in watched
            for item in term["access_schedule"]["schedule_items"]
            if parse_time(item["starting_at"]) <= at < parse_time(item["ending_before"])
        ),
        Decimal(0),
    )
    ids = {term["id"] for term in watched}
    drawn = -sum(
        (
            line.total
            for line in draft.lines
            if line.type == "applied_commit_or_credit" and line.applied_commit_or_credit_id in ids
        ),
        Decimal(0),
    )
    return held - drawn


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pure(path):
    case = load_case(path)
    _check_thresholds_pure(case)
    result = rate_invoice(terms_rating_input(case))
    assert _lines(line_as_case(line) for line in result.lines) == _lines(case["expected"]["lines"])
    assert result.subtotal == Decimal(case["expected"]["subtotal"])
    assert result.total == Decimal(case["expected"]["total"])
    for scheduled in case.get("expected_scheduled") or ():
        result = rate_invoice(terms_scheduled_input(case, parse_time(scheduled["timestamp"])))
        assert _lines(line_as_case(line) for line in result.lines) == _lines(scheduled["lines"])
        assert result.total == Decimal(scheduled["total"])


def _add_terms(case, world) -> None:
    """The case's issue-14 terms on the ORM contract, made by the services the API calls."""
    contract = world.contract
    terms = case["contract"]

    def product(golden_id):
        return Product.objects.get(pk=world.ids[golden_id])

    now = parse_time(case["period"]["starting_at"])
    edit = {}
    if terms.get("discounts"):
        edit["add_discounts"] = [
            services.DiscountSpec(
                product=product(data["product_id"]),
                name=data.get("name", ""),
                items=[
                    services.InvoiceItemSpec(
                        timestamp=parse_time(item["timestamp"]),
                        amount=Decimal(item["amount"]) if "amount" in item else None,
                        unit_price=Decimal(item["unit_price"]) if "unit_price" in item else None,
                        quantity=Decimal(item["quantity"]) if "quantity" in item else None,
                    )
                    for item in data["schedule"]["schedule_items"]
                ],
            )
            for data in terms["discounts"]
        ]
    if terms.get("professional_services"):
        edit["add_professional_services"] = [
            services.ProfessionalServiceSpec(
                product=product(data["product_id"]),
                unit_price=Decimal(data["unit_price"]),
                quantity=Decimal(data["quantity"]),
                max_amount=Decimal(data["max_amount"]),
                description=data.get("description", ""),
            )
            for data in terms["professional_services"]
        ]
    if terms.get("seat_subscriptions"):
        edit["add_subscriptions"] = [
            services.SubscriptionSpec(
                product=product(data["product_id"]),
                billing_frequency=data["billing_frequency"],
                collection_schedule=data["collection_schedule"],
                is_prorated=data["is_prorated"],
                starting_at=parse_time(data["starting_at"]),
                quantity_management_mode="SEAT_BASED",
                seat_group_key=data["seat_group_key"],
                initial_seat_ids=data["seats"][0]["seat_ids"],
            )
            for data in terms["seat_subscriptions"]
        ]
    for key, kind in (("recurring_credits", "CREDIT"), ("recurring_commits", "COMMIT")):
        if terms.get(key):
            edit[f"add_{key}"] = [
                services.RecurringSpec(
                    kind=kind,
                    product=product(data["product_id"]),
                    name=data.get("name", ""),
                    priority=Decimal(data.get("priority", "0")),
                    starting_at=parse_time(data["starting_at"]),
                    access_unit_price=Decimal(data["access_amount"]["unit_price"]),
                    access_quantity=Decimal(data["access_amount"].get("quantity", "1")),
                    duration_periods=Decimal(data["commit_duration"]["value"]),
                    proration=data.get("proration", "FIRST_AND_LAST"),
                    invoice_unit_price=Decimal(data["invoice_amount"]["unit_price"])
                    if data.get("invoice_amount")
                    else None,
                    invoice_quantity=Decimal(data["invoice_amount"].get("quantity", "1"))
                    if data.get("invoice_amount")
                    else None,
                    proration_rounding=services.proration_rounding_spec(
                        data.get("proration_rounding")
                    ),
                )
                for data in terms[key]
            ]
    services.contract_edit(contract=contract, now=now, **edit)
    for data in terms.get("recurring_commits") or ():
        # The commit made for the period (the golden file names it by its template's id).
        made = Commit.objects.filter(
            contract=contract, access_schedule__starting_at=parse_time(data["starting_at"])
        ).get(recurring__isnull=False)
        world.ids[data["id"]] = str(made.pk)
    for data in terms.get("seat_subscriptions") or ():
        subscription = Subscription.objects.get(
            contract=contract, product=product(data["product_id"])
        )
        for row in data["seats"][1:]:
            latest = subscription.quantities.order_by("-starting_at").first()
            before = set(latest.seat_ids)
            services.subscription_update(
                subscription=subscription,
                update=services.SubscriptionUpdate(
                    id=str(subscription.pk),
                    add_seat_ids=[
                        {
                            "seat_ids": [s for s in row["seat_ids"] if s not in before],
                            "starting_at": parse_time(row["starting_at"]),
                        }
                    ],
                ),
                where="update_subscriptions[0]",
                now=now,
            )
    for data in terms.get("professional_services") or ():
        service = contract.professional_services.get(product=product(data["product_id"]))
        for billing in data["billings"]:
            services.pro_services_bill(
                contract=contract,
                issued_at=parse_time(billing["timestamp"]),
                lines=[
                    services.ProServiceBilling(
                        professional_service_id=str(service.pk),
                        amount=Decimal(billing["amount"]) if "amount" in billing else None,
                        quantity=Decimal(billing["quantity"]) if "quantity" in billing else None,
                    )
                ],
                now=now,
            )


def _run_threshold_checks(case, world, api_client, monkeypatch) -> int:
    """The case's threshold configuration set when its period starts (an enabled one is
    evaluated at once), then each check at its moment with the usage before it ingested: the
    commits bought so far are the case's. Returns how many of the (dated) events were sent."""
    checks = case.get("threshold_checks") or ()
    if not checks:
        return 0
    period_start = parse_time(case["period"]["starting_at"])
    configuration = checks[0]["configuration"]
    config = json.loads(json.dumps(case["contract"][configuration], default=str))
    config["commit"]["product_id"] = str(world.ids[config["commit"]["product_id"]])
    if config.get("custom_credit_type_id"):
        config["custom_credit_type_id"] = world.ids[config["custom_credit_type_id"]]
    for specifier in config["commit"].get("specifiers") or ():
        if "product_id" in specifier:
            specifier["product_id"] = world.ids[specifier["product_id"]]
    if case["contract"].get("spend_trackers"):
        services.spend_trackers_add(
            contract=world.contract,
            specs=[
                services.SpendTrackerSpec(
                    alias=t["alias"],
                    credit_type=world.contract.rate_card.fiat_credit_type,
                    applicable_spend_specifiers=t["applicable_spend_specifiers"],
                )
                for t in case["contract"]["spend_trackers"]
            ],
            now=period_start,
            prefix="spend_trackers",
        )
    services.contract_edit(contract=world.contract, now=period_start, **{configuration: config})
    events = sorted(case["events"], key=lambda e: parse_time(e["timestamp"]))
    case = {**case, "events": events}
    sent = 0
    for check in checks:
        at = parse_time(check["at"])
        before = _before(case, at)
        send_events(api_client, monkeypatch, world, before[sent:])
        sent = len(before)
        if at > period_start:
            contract_thresholds_check(contract=world.contract, now=at)
        bought = Commit.objects.filter(contract=world.contract).exclude(threshold_kind="")
        got = [
            (
                segment.amount,
                segment.starting_at,
                segment.ending_before,
                [item.timestamp for item in commit.invoice_schedule.all()],
            )
            for commit in bought.order_by("created_at", "pk")
            for segment in commit.access_schedule.all()
        ]
        expected = [
            (
                Decimal(item["access_schedule"]["schedule_items"][0]["amount"]),
                parse_time(item["access_schedule"]["schedule_items"][0]["starting_at"]),
                parse_time(item["access_schedule"]["schedule_items"][0]["ending_before"]),
                [parse_time(i["timestamp"]) for i in item["invoice_schedule"]["schedule_items"]],
            )
            for item in bought_commits(case, at + timedelta(microseconds=1))
        ]
        assert got == expected
        for item, commit in zip(
            bought_commits(case), bought.order_by("created_at", "pk"), strict=False
        ):
            world.ids[item["id"]] = str(commit.pk)
    return sent


def _as_case(world, fiat_id):
    def convert(line):
        data = line_item_as_case(line, world)
        if line.applied_commit_or_credit_id:
            data["balance_remaining"] = line.balance_remaining
        data["commit_id"] = world.golden_id(line.commit_id) if line.commit_id else None
        unit = str(line.credit_type_id)
        data["credit_type_id"] = None if unit == str(fiat_id) else world.golden_id(unit)
        return data

    return convert


def _comparable(lines) -> list:
    """Lines without what only the pure file can name (balance ids)."""
    result = []
    for line in lines:
        line = dict(line)
        line.pop("applied_commit_or_credit", None)
        result.append(canonical_line(line))
    return sorted(result, key=sort_key)


@pytest.mark.django_db
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_end_to_end(path, api_client, monkeypatch):
    case = load_case(path)
    world = build_terms_world(case)
    _add_terms(case, world)
    period_start = parse_time(case["period"]["starting_at"])
    period_end = parse_time(case["period"]["ending_before"])
    draft = case_draft(world, period_start)
    sent = _run_threshold_checks(case, world, api_client, monkeypatch)
    # The checks sent the first `sent` events in time order (those before the last check).
    events = sorted(case["events"], key=lambda e: parse_time(e["timestamp"]))
    send_events(api_client, monkeypatch, world, events[sent:])
    read = api_client.get(f"/v1/customers/{world.customer.id}/invoices/{draft.id}")
    assert read.status_code == 200
    assert Decimal(str(read.json()["data"]["total"])) == Decimal(case["expected"]["total"])
    invoice = invoice_finalize(invoice=draft, now=period_end + timedelta(days=2)).invoice
    invoice = Invoice.objects.get(pk=invoice.pk)
    got = _comparable(
        _as_case(world, invoice.credit_type_id)(line) for line in invoice.line_items.all()
    )
    assert got == _comparable(case["expected"]["lines"])
    assert (invoice.subtotal, invoice.total) == (
        Decimal(case["expected"]["subtotal"]),
        Decimal(case["expected"]["total"]),
    )
    for scheduled in case.get("expected_scheduled") or ():
        moment = parse_time(scheduled["timestamp"])
        draft = Invoice.objects.get(
            contract=world.contract, type=Invoice.Type.SCHEDULED, start_timestamp=moment
        )
        invoice = Invoice.objects.get(pk=invoice_finalize(invoice=draft, now=moment).invoice.pk)
        got = _comparable(
            _as_case(world, invoice.credit_type_id)(line) for line in invoice.line_items.all()
        )
        assert got == _comparable(scheduled["lines"])
        assert invoice.total == Decimal(scheduled["total"])
