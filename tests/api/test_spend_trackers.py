# ruff: noqa: F811  (the world fixture is imported from the threshold billing tests)
"""Spend trackers and the discount cap they measure, end to end through the API: trackers made on
contract create and by v2 edits, what each accumulates in the billing period (threshold
purchases' discounted and full-price parts, manual commits marked counts_as_discounted), and a
spend threshold whose discount stops at its cap: the purchase that crosses it is invoiced at the
discount up to the cap and at full price for the rest.

By hand (USD cents; 2 per token; spend threshold 1000; discount 0.8 capped at 3000 by
`discounted`, which counts discounted threshold purchases and manual commits):
- a manual commit of 700 marked counts_as_discounted: `discounted` starts the month at 700;
- 1250 tokens (2500 owed) buy 2000: 2300 left under the cap, all discounted: 2000 x 0.8 = 1600;
- 1000 more tokens (2500 owed again) buy 2000: 300 left under the cap: 300 x 0.8 = 240 and
  1700 x 1 = 1700 (1940 in all, 2000 bought);
- 500 more tokens (1000 owed) buy 1000, all at full price: the tracker is at its cap (3000)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from customers.models import Commit, Contract, SpendTracker
from invoicing.threshold_billing import contract_thresholds_check
from tests.api.conftest import data, error
from tests.api.test_threshold_billing import _contract, _now, world  # noqa: F401
from tests.invoicing.factories import ingest

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def _tracker(alias: str, sources: list[str], discounted: str | None = None) -> dict:
    specifier = {"sources": sources, "spend_type": "COMMIT_PURCHASE"}
    if discounted:
        specifier["discounted"] = discounted
    return {
        "alias": alias,
        "applicable_spend_specifiers": [specifier],
        "credit_type_id": USD,
        "reset_frequency": "BILLING_PERIOD",
    }


TRACKERS = [
    _tracker("discounted", ["THRESHOLD_RECHARGE", "MANUAL"], "DISCOUNTED_ONLY"),
    _tracker("full_price", ["THRESHOLD_RECHARGE"], "UNDISCOUNTED_ONLY"),
    _tracker("everything", ["THRESHOLD_RECHARGE", "MANUAL"]),
]


def _spend_config(world, **discount) -> dict:
    return {
        "commit": {"product_id": str(world["fixed"].pk), "name": "Spend threshold"},
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        "threshold_amount": 1000,
        "discount_configuration": {"payment_fraction": 0.8, **discount},
    }


def _manual_commit(world, start) -> dict:
    """A prepaid commit of 700 that draws nothing (it applies to the fixed product only),
    bought on the contract's first day and marked as discounted spend."""
    return {
        "type": "PREPAID",
        "product_id": str(world["fixed"].pk),
        "applicable_product_ids": [str(world["fixed"].pk)],
        "access_schedule": {
            "schedule_items": [
                {
                    "amount": 700,
                    "starting_at": start.isoformat(),
                    "ending_before": (start + timedelta(days=400)).isoformat(),
                }
            ]
        },
        "invoice_schedule": {"schedule_items": [{"timestamp": start.isoformat(), "amount": 700}]},
        "spend_tracker_attributes": {"counts_as_discounted": True},
    }


def _usage(world, tokens: str, now, transaction_id: str) -> None:
    ingest(
        [
            {
                "transaction_id": transaction_id,
                "customer_id": str(world["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": (now - timedelta(minutes=5)).isoformat(),
                "properties": {"num_tokens": tokens},
            }
        ],
        now=now,
    )


def _items(commit: Commit) -> list[tuple]:
    """Its invoice items: the discounted part (a unit price) first, then the full-price part."""
    items = sorted(commit.invoice_schedule.all(), key=lambda i: i.unit_price is None)
    return [(i.quantity, i.unit_price, i.amount) for i in items]


def _accumulated(post, contract_id: str, customer_id: str, version: str = "v2") -> dict:
    got = data(
        post(f"/{version}/contracts/get", {"contract_id": contract_id, "customer_id": customer_id})
    )
    return {t["alias"]: t["accumulated_spend"]["amount"] for t in got["spend_trackers"]}


@pytest.fixture
def capped(post, world):
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    contract_id = _contract(
        post,
        world,
        spend_trackers=TRACKERS,
        commits=[_manual_commit(world, start)],
        spend_threshold_configuration=_spend_config(
            world, cap={"amount": 3000, "spend_tracker_alias": "discounted"}
        ),
    )
    return Contract.objects.get(pk=contract_id)


def test_a_discount_stops_at_its_cap_and_the_purchase_crossing_it_is_split(post, world, capped):
    customer_id = str(world["customer"].pk)
    now = _now()
    assert _accumulated(post, str(capped.pk), customer_id) == {
        "discounted": 700,
        "full_price": 0,
        "everything": 700,
    }

    _usage(world, "1250", now, "t1")
    (first,) = contract_thresholds_check(contract=capped, now=now)
    assert _items(first) == [(Decimal(2000), Decimal("0.8"), None)]
    assert first.threshold_discounted_amount == Decimal(2000)

    _usage(world, "1000", now, "t2")
    (second,) = contract_thresholds_check(contract=capped, now=now)
    assert _items(second) == [
        (Decimal(300), Decimal("0.8"), None),
        (None, None, Decimal(1700)),
    ]
    assert second.threshold_discounted_amount == Decimal(300)
    assert sum(i.total for i in second.invoice_schedule.all()) == Decimal(1940)

    _usage(world, "500", now, "t3")
    (third,) = contract_thresholds_check(contract=capped, now=now)
    assert _items(third) == [(None, None, Decimal(1000))]
    assert third.threshold_discounted_amount == Decimal(0)

    assert _accumulated(post, str(capped.pk), customer_id) == {
        "discounted": 3000,
        "full_price": 2700,
        "everything": 5700,
    }
    assert _accumulated(post, str(capped.pk), customer_id, "v1") == {
        "discounted": 3000,
        "full_price": 2700,
        "everything": 5700,
    }


def test_the_contract_shows_its_trackers_the_cap_and_the_commit_attributes(post, world, capped):
    got = data(
        post(
            "/v2/contracts/get",
            {"contract_id": str(capped.pk), "customer_id": str(world["customer"].pk)},
        )
    )
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = got["spend_trackers"][0]
    assert {k: v for k, v in first.items() if k != "accumulated_spend"} == {
        "alias": "discounted",
        "applicable_spend_specifiers": [
            {
                "sources": ["THRESHOLD_RECHARGE", "MANUAL"],
                "spend_type": "COMMIT_PURCHASE",
                "discounted": "DISCOUNTED_ONLY",
            }
        ],
        "credit_type_id": USD,
        "reset_frequency": "BILLING_PERIOD",
    }
    assert first["accumulated_spend"]["period_starting_at"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["spend_threshold_configuration"]["discount_configuration"] == {
        "payment_fraction": 0.8,
        "cap": {"amount": 3000, "spend_tracker_alias": "discounted"},
    }
    (manual,) = got["commits"]
    assert manual["spend_tracker_attributes"] == {"counts_as_discounted": True}


def test_edits_add_and_archive_trackers_and_move_the_cap(post, world, capped):
    ref = {"contract_id": str(capped.pk), "customer_id": str(world["customer"].pk)}
    # A tracker a cap measures cannot be archived.
    assert error(
        post("/v2/contracts/edit", {**ref, "archive_spend_trackers": ["discounted"]}), 400
    ) == (
        "archive_spend_trackers[0]: The discount cap of spend_threshold_configuration is "
        "measured by 'discounted'; change it first."
    )
    # Move the cap to a new tracker and archive the old one in one edit.
    body = {
        **ref,
        "add_spend_trackers": [_tracker("threshold_only", ["THRESHOLD_RECHARGE"])],
        "update_spend_threshold_configuration": {
            "discount_configuration": {
                "cap": {"amount": 500, "spend_tracker_alias": "threshold_only"}
            }
        },
    }
    assert post("/v2/contracts/edit", body).status_code == 200
    assert (
        post("/v2/contracts/edit", {**ref, "archive_spend_trackers": ["discounted"]}).status_code
        == 200
    )
    capped.refresh_from_db()
    assert capped.spend_threshold_configuration["discount_configuration"] == {
        "payment_fraction": "0.8",
        "cap": {"amount": "500", "spend_tracker_alias": "threshold_only"},
    }
    live = SpendTracker.objects.filter(contract=capped, archived_at__isnull=True)
    assert sorted(t.alias for t in live) == ["everything", "full_price", "threshold_only"]
    # The archived alias may be used again.
    again = {**ref, "add_spend_trackers": [_tracker("discounted", ["MANUAL"])]}
    assert post("/v2/contracts/edit", again).status_code == 200
    # The cap now stops the discount after 500 of threshold purchases.
    now = _now()
    _usage(world, "1250", now, "t1")
    (bought,) = contract_thresholds_check(contract=capped, now=now)
    assert _items(bought) == [(Decimal(500), Decimal("0.8"), None), (None, None, Decimal(1500))]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"spend_trackers": [TRACKERS[0], TRACKERS[0]]},
            "spend_trackers[1].alias: Aliases must be unique.",
        ),
        (
            {"spend_trackers": [{**TRACKERS[0], "reset_frequency": "MONTHLY"}]},
            "spend_trackers[0].reset_frequency: 'MONTHLY' is not one of BILLING_PERIOD.",
        ),
        (
            {
                "spend_trackers": [
                    {
                        **TRACKERS[0],
                        "applicable_spend_specifiers": [
                            {"sources": ["REFUND"], "spend_type": "COMMIT_PURCHASE"}
                        ],
                    }
                ]
            },
            "spend_trackers[0].applicable_spend_specifiers[0].sources[0]: 'REFUND' is not one of "
            "THRESHOLD_RECHARGE, MANUAL.",
        ),
        (
            {"spend_trackers": [{**TRACKERS[0], "applicable_spend_specifiers": []}]},
            "spend_trackers[0].applicable_spend_specifiers: This list may not be empty.",
        ),
    ],
)
def test_spend_tracker_errors(post, world, extra, message):
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": start.isoformat(),
        **extra,
    }
    assert error(post("/v1/contracts/create", body), 400) == message
    assert not Contract.objects.exists()


def test_a_cap_must_name_a_tracker_in_the_thresholds_unit(post, world):
    from tests.catalog.factories import PricingUnitFactory

    other = PricingUnitFactory(name="Cloud credits")
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    body = {
        "customer_id": str(world["customer"].pk),
        "rate_card_id": str(world["card"].pk),
        "starting_at": start.isoformat(),
        "spend_trackers": [{**TRACKERS[0], "credit_type_id": str(other.pk)}],
        "spend_threshold_configuration": _spend_config(
            world, cap={"amount": 3000, "spend_tracker_alias": "discounted"}
        ),
    }
    assert error(post("/v1/contracts/create", body), 400) == (
        "spend_threshold_configuration.discount_configuration.cap.spend_tracker_alias: The spend "
        "tracker 'discounted' counts Cloud credits; the threshold buys in another pricing unit."
    )
    assert not Contract.objects.exists()


def test_the_contract_page_shows_the_trackers_to_a_viewer(client, capped):
    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    from roles.definitions import FINANCE_VIEWER

    url = reverse("admin:customers_contract_change", args=[capped.pk])
    nobody = User.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    client.force_login(viewer)
    body = client.get(url).content.decode()
    assert "Spend trackers (reset each billing period)" in body
    assert "discounted threshold purchases and commits given by hand" in body
    assert "full-price threshold purchases" in body
    start = _now().replace(day=1)
    assert f"$7.00 ({start:%Y-%m-%d} to " in body


def test_a_commit_added_by_an_edit_counts_as_discounted_manual_spend(post, world, capped):
    ref = {"contract_id": str(capped.pk), "customer_id": str(world["customer"].pk)}
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    added = {
        **_manual_commit(world, start),
        "spend_tracker_attributes": {"counts_as_discounted": False},
    }
    assert post("/v2/contracts/edit", {**ref, "add_commits": [added]}).status_code == 200
    # 700 (discounted) + 700 (not): the DISCOUNTED_ONLY tracker keeps 700, ANY has 1400.
    assert _accumulated(post, str(capped.pk), ref["customer_id"]) == {
        "discounted": 700,
        "full_price": 0,
        "everything": 1400,
    }
    assert sorted(c.counts_as_discounted for c in Commit.objects.filter(contract=capped)) == [
        False,
        True,
    ]


def test_edit_errors_name_the_tracker(post, world, capped):
    ref = {"contract_id": str(capped.pk), "customer_id": str(world["customer"].pk)}
    assert error(post("/v2/contracts/edit", {**ref, "archive_spend_trackers": ["nope"]}), 400) == (
        "archive_spend_trackers[0]: The contract has no spend tracker 'nope'."
    )
    taken = {**ref, "add_spend_trackers": [_tracker("everything", ["MANUAL"])]}
    assert error(post("/v2/contracts/edit", taken), 400) == (
        "add_spend_trackers[0]: The contract already has a spend tracker with this alias."
    )
    assert SpendTracker.objects.filter(contract=capped).count() == 3
