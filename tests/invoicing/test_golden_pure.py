"""Every golden invoice case, through the reference aggregator and the pure engine."""

import json
from decimal import Decimal

import pytest

from invoicing.rating import rate_invoice, rating_input_from_json, to_json
from tests.invoicing.golden_support import (
    canonical_line,
    case_paths,
    line_as_case,
    load_case,
    parse_time,
    rating_input,
    scheduled_dates,
    scheduled_on_usage,
    scheduled_rating_input,
)

CASES = case_paths(with_terms=True)


def test_there_are_at_least_fifteen_golden_cases():
    assert len(CASES) >= 15


def test_there_are_at_least_twelve_golden_cases_with_contract_terms():
    assert len(CASES) - len(case_paths()) >= 12


def test_the_golden_loader_marks_balances_that_rolled_over():
    (path,) = [p for p in CASES if p.name.startswith("60_")]
    balances = rating_input(load_case(path)).balances
    assert {b.id: b.is_rollover for b in balances} == {
        "commit-rolled": True,
        "credit-promo": False,
        "commit-new": False,
    }


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_case_rates_to_its_expected_invoice(path):
    case = load_case(path)
    result = rate_invoice(rating_input(case))

    actual = [canonical_line(line_as_case(line)) for line in result.lines]
    expected = [canonical_line(line) for line in case["expected"]["lines"]]
    assert actual == expected
    assert result.subtotal == Decimal(case["expected"]["subtotal"])
    assert result.total == Decimal(case["expected"]["total"])
    if "balance_draws" in case["expected"]:
        assert [
            {
                "balance_id": draw.balance_id,
                "segment_id": draw.segment_id,
                "available": draw.available,
                "drawn": draw.drawn,
                "remaining": draw.remaining,
                "expires": draw.expires,
            }
            for draw in result.balance_draws
        ] == [
            {**row, **{key: Decimal(row[key]) for key in ("available", "drawn", "remaining")}}
            for row in case["expected"]["balance_draws"]
        ]


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_case_scheduled_invoices_rate_to_their_expected_invoices(path):
    case = load_case(path)
    expected = case.get("expected_scheduled_invoices") or []

    assert scheduled_dates(case) == [parse_time(item["timestamp"]) for item in expected]
    for item in expected:
        rating = scheduled_rating_input(case, parse_time(item["timestamp"]))
        result = rate_invoice(rating)
        actual = [canonical_line(line_as_case(line)) for line in result.lines]
        assert actual == [canonical_line(line) for line in item["lines"]]
        assert result.subtotal == Decimal(item["subtotal"])
        assert result.total == Decimal(item["total"])
        assert result.balance_draws == ()
        snapshot = json.loads(json.dumps(to_json(rating)))
        assert rate_invoice(rating_input_from_json(snapshot)) == result


def test_golden_cases_keep_both_placements_of_scheduled_items():
    cases = [load_case(path) for path in CASES]
    on_usage = [
        case
        for case in cases
        if scheduled_on_usage(case)
        and any(
            line["type"] in ("scheduled", "commit_purchase") for line in case["expected"]["lines"]
        )
    ]
    separate = [case for case in cases if case.get("expected_scheduled_invoices")]
    assert len(on_usage) >= 2
    assert len(separate) >= 2


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_case_snapshot_rerates_to_the_same_invoice(path):
    rating = rating_input(load_case(path))
    snapshot = json.loads(json.dumps(to_json(rating)))

    assert rating_input_from_json(snapshot) == rating
    assert rate_invoice(rating_input_from_json(snapshot)) == rate_invoice(rating)


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_case_numbers_are_strings(path):
    def walk(value):
        assert not isinstance(value, int | float | Decimal) or isinstance(value, bool), value
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(path.read_text()))
