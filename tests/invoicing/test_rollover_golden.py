"""Golden invoices with rollover balances (cases 60 and up, in golden/rollover/), run through the
same two paths as every golden case with terms: the pure engine (`test_golden_pure`) and end to
end through the ORM, the API and finalization (`test_golden_e2e_terms`).

A rollover balance is marked in the case by Metronome's `rolled_over_from`
({commit_id | credit_id, contract_id}). The shared golden loaders do not read that field yet, so
this module runs the shared checks with the mark added: on the engine's `Balance`
(`is_rollover`), and in the database (the balance `rolled_over_from` a balance of an earlier,
ended contract of the customer). Once `golden_support` and `test_golden_e2e_terms` read the field,
these files can move up into golden/ and this module can go.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from customers.models import AccessSegment, Commit, Contract, Credit
from invoicing.rating import rate_invoice
from tests.invoicing import golden_support, test_golden_e2e_terms, test_golden_pure
from tests.invoicing.golden_support import parse_time

ROLLOVER_DIR = Path(__file__).parent / "golden" / "rollover"
CASES = sorted(ROLLOVER_DIR.glob("*.json"))


def rollover_ids(case) -> set[str]:
    contract = case.get("contract") or {}
    terms = [
        *(contract.get("commits") or ()),
        *(contract.get("credits") or ()),
        *(case.get("customer_commits") or ()),
        *(case.get("customer_credits") or ()),
    ]
    return {term["id"] for term in terms if term.get("rolled_over_from")}


def rating_input_with_rollovers(case, events=None):
    rating = golden_support.rating_input(case, events)
    marked = rollover_ids(case)
    return dataclasses.replace(
        rating,
        balances=tuple(
            dataclasses.replace(balance, is_rollover=balance.id in marked)
            for balance in rating.balances
        ),
    )


def test_there_are_rollover_golden_cases_numbered_from_60():
    assert len(CASES) >= 3
    assert all(int(path.name.split("_")[0]) >= 60 for path in CASES)


def test_every_case_has_a_rollover_balance():
    for path in CASES:
        assert rollover_ids(golden_support.load_case(path)), path.name


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_rollover_case_rates_to_its_expected_invoice(path, monkeypatch):
    monkeypatch.setattr(test_golden_pure, "rating_input", rating_input_with_rollovers)
    test_golden_pure.test_golden_case_rates_to_its_expected_invoice(path)
    test_golden_pure.test_golden_case_snapshot_rerates_to_the_same_invoice(path)
    test_golden_pure.test_golden_case_numbers_are_strings(path)


def test_without_the_mark_case_60_would_draw_the_credit_first():
    case = golden_support.load_case(
        ROLLOVER_DIR / "60_rollover_commit_before_higher_priority_credit.json"
    )
    unmarked = rate_invoice(golden_support.rating_input(case))
    marked = rate_invoice(rating_input_with_rollovers(case))
    first = [
        next(
            line.applied_commit_or_credit_id
            for line in result.lines
            if line.type == "applied_commit_or_credit"
        )
        for result in (unmarked, marked)
    ]
    assert first == ["credit-promo", "commit-rolled"]


def _mark_rollovers(case, world) -> None:
    """Each rollover balance of the case rolled over from a balance of an earlier contract of the
    customer that ended when this one started."""
    marked = rollover_ids(case)
    if not marked:
        return
    start = parse_time(case["contract"]["starting_at"])
    earlier = Contract.objects.create(
        customer=world.customer,
        rate_card=world.contract.rate_card,
        starting_at=start.replace(year=start.year - 1),
        ending_before=start,
        name="Earlier contract",
    )
    for golden_id in sorted(marked):
        model = Commit if Commit.objects.filter(pk=world.ids[golden_id]).exists() else Credit
        term = model.objects.get(pk=world.ids[golden_id])
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
            **{owner: source},
            amount=0,
            starting_at=earlier.starting_at,
            ending_before=start,
        )
        term.rolled_over_from = source
        term.save(update_fields=["rolled_over_from"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_rollover_case_end_to_end(path, api_client, monkeypatch):
    build = test_golden_e2e_terms.build_terms_world

    def build_with_rollovers(case):
        world = build(case)
        _mark_rollovers(case, world)
        return world

    monkeypatch.setattr(test_golden_e2e_terms, "build_terms_world", build_with_rollovers)
    test_golden_e2e_terms.test_golden_case_with_terms_end_to_end(path, api_client, monkeypatch)
