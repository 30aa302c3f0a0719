"""Contract transitions (services): the earlier contract ends where the later one starts, and a
RENEWAL rolls the unused part of commits and credits with a rollover fraction over, once."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers import selectors, services
from customers.models import BalanceLedgerEntry, Commit, ContractTransition, Credit
from invoicing import services as invoicing_services
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CommitInvoiceItemFactory,
    ContractFactory,
    CreditFactory,
    CustomerFactory,
)

pytestmark = pytest.mark.django_db

T = BalanceLedgerEntry.Type
JAN_2026 = datetime(2026, 1, 1, tzinfo=UTC)
JUL_2026 = datetime(2026, 7, 1, tzinfo=UTC)
JAN_2027 = datetime(2027, 1, 1, tzinfo=UTC)
JUL_2027 = datetime(2027, 7, 1, tzinfo=UTC)
JAN_2028 = datetime(2028, 1, 1, tzinfo=UTC)
AFTER = datetime(2027, 1, 1, 1, tzinfo=UTC)  # an hour after the renewal starts
INVOICE = "11111111-1111-4111-8111-111111111111"


def _old(**fields):
    """A 2026 contract (no drafts: made by a factory)."""
    return ContractFactory(starting_at=JAN_2026, ending_before=JAN_2027, **fields)


def _commit(contract, *, amount="10000", fraction="0.5", end=JUL_2027, **fields):
    commit = CommitFactory(
        contract=contract,
        rollover_fraction=None if fraction is None else Decimal(fraction),
        **fields,
    )
    AccessSegmentFactory(
        commit=commit, amount=Decimal(amount), starting_at=JAN_2026, ending_before=end
    )
    return commit


def _drawn(commit, amount: str) -> None:
    """What a finalized 2026 invoice drew from the commit's first segment."""
    segment = commit.access_schedule.first()
    services.balance_ledger_record_draws(
        invoice_id=INVOICE,
        draws=[
            {
                "balance_id": str(commit.pk),
                "balance_type": commit.type,
                "segment_id": str(segment.pk),
                "drawn": amount,
                "remaining": str(segment.amount - Decimal(amount)),
                "expires": False,
            }
        ],
        now=JUL_2026,
        timestamp=JUL_2026,
    )


def _renew(old, *, now=AFTER, kind="RENEWAL", starting_at=JAN_2027, ending_before=JAN_2028, **kw):
    return services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=starting_at,
        ending_before=ending_before,
        now=now,
        transition=services.TransitionSpec(from_contract_id=old.pk, type=kind, **kw),
    )


def _held(term) -> Decimal:
    available = selectors.segment_available(segments=term.access_schedule.all())
    return sum(available.values(), Decimal(0))


def test_renewal_rolls_over_the_fraction_of_what_is_left():
    old = _old()
    commit = _commit(old, amount="10000", fraction="0.5", priority=Decimal(3))
    _drawn(commit, "2500")

    new = _renew(old)

    rolled = Commit.objects.get(contract=new)
    assert rolled.rolled_over_from == commit and rolled.is_rollover
    assert rolled.transition == ContractTransition.objects.get(to_contract=new)
    assert (rolled.type, rolled.product, rolled.priority, rolled.rate_type, rolled.credit_type) == (
        commit.type,
        commit.product,
        Decimal(3),
        commit.rate_type,
        commit.credit_type,
    )
    assert rolled.rollover_fraction == Decimal("0.5")
    [segment] = rolled.access_schedule.all()
    assert (segment.amount, segment.starting_at, segment.ending_before) == (
        Decimal("3750"),
        JAN_2027,
        JAN_2028,
    )
    [entry] = BalanceLedgerEntry.objects.filter(type=T.PREPAID_COMMIT_ROLLOVER)
    assert (entry.commit, entry.amount, entry.timestamp, entry.contract) == (
        commit,
        Decimal("-7500"),
        JAN_2027,
        new,
    )
    assert _held(commit) == Decimal("0")
    assert _held(rolled) == Decimal("3750")


def test_a_fraction_of_one_rolls_everything_left_over():
    old = _old()
    commit = _commit(old, fraction="1")
    _drawn(commit, "2500")

    new = _renew(old)

    assert Commit.objects.get(contract=new).access_schedule.get().amount == Decimal("7500")


def test_a_fraction_of_zero_takes_the_balance_off_and_makes_nothing():
    old = _old()
    commit = _commit(old, fraction="0")

    new = _renew(old)

    assert not Commit.objects.filter(contract=new).exists()
    assert _held(commit) == Decimal("0")
    assert BalanceLedgerEntry.objects.get(type=T.PREPAID_COMMIT_ROLLOVER).amount == Decimal(
        "-10000"
    )


def test_the_rolled_amount_is_rounded_once_half_up_to_the_unit():
    old = _old()
    _commit(old, amount="10001", fraction="0.5")

    new = _renew(old)

    assert Commit.objects.get(contract=new).access_schedule.get().amount == Decimal("5001")


def test_without_a_rollover_fraction_nothing_rolls_over():
    old = _old()
    commit = _commit(old, fraction=None)

    new = _renew(old)

    assert not Commit.objects.filter(contract=new).exists()
    assert not BalanceLedgerEntry.objects.exists()
    assert _held(commit) == Decimal("10000")


def test_expired_segments_do_not_roll_over():
    old = _old()
    commit = _commit(old, amount="4000", end=JUL_2026)  # expired at the renewal
    AccessSegmentFactory(
        commit=commit, amount=Decimal("6000"), starting_at=JUL_2026, ending_before=JUL_2027
    )

    new = _renew(old)

    assert Commit.objects.get(contract=new).access_schedule.get().amount == Decimal("3000")
    [entry] = BalanceLedgerEntry.objects.all()
    assert entry.segment.amount == Decimal("6000") and entry.amount == Decimal("-6000")


def test_a_segment_ending_exactly_at_the_renewal_does_not_roll_over():
    old = _old()
    _commit(old, end=JAN_2027)

    new = _renew(old)

    assert not Commit.objects.filter(contract=new).exists()
    assert not BalanceLedgerEntry.objects.exists()


def test_credits_roll_over_with_credit_rollover_entries():
    old = _old()
    credit = CreditFactory(contract=old, rollover_fraction=Decimal("0.25"), priority=Decimal(7))
    AccessSegmentFactory(
        commit=None,
        credit=credit,
        amount=Decimal("800"),
        starting_at=JAN_2026,
        ending_before=JUL_2027,
    )

    new = _renew(old)

    rolled = Credit.objects.get(contract=new)
    assert rolled.rolled_over_from == credit and rolled.priority == Decimal(7)
    assert rolled.access_schedule.get().amount == Decimal("200")
    assert BalanceLedgerEntry.objects.get(credit=credit).type == T.CREDIT_ROLLOVER


def test_a_rollover_commit_has_no_invoice_schedule():
    old = _old()
    commit = _commit(old, fraction="1")
    CommitInvoiceItemFactory(commit=commit, timestamp=JAN_2026, amount=Decimal("10000"))

    new = _renew(old)

    assert not Commit.objects.get(contract=new).invoice_schedule.exists()


def test_a_postpaid_commit_rolls_over_as_postpaid():
    old = _old()
    commit = _commit(old, fraction="1", type=Commit.Type.POSTPAID)
    _drawn(commit, "1000")

    new = _renew(old)

    rolled = Commit.objects.get(contract=new)
    assert rolled.type == Commit.Type.POSTPAID
    assert rolled.access_schedule.get().amount == Decimal("9000")
    assert BalanceLedgerEntry.objects.get(type=T.POSTPAID_COMMIT_ROLLOVER).amount == Decimal(
        "-9000"
    )
    ledger = selectors.balance_ledger(balance=rolled)
    assert [(row["type"], row["amount"], row["new_contract_id"]) for row in ledger] == [
        (T.POSTPAID_COMMIT_ROLLOVER, Decimal("9000"), new.pk)
    ]


def test_the_new_contract_without_an_end_keeps_the_rolled_segments_end():
    old = _old()
    _commit(old)

    new = _renew(old, ending_before=None)

    assert Commit.objects.get(contract=new).access_schedule.get().ending_before == JUL_2027


def test_rolling_over_twice_does_nothing_more():
    old = _old()
    _commit(old)
    new = _renew(old)
    transition = ContractTransition.objects.get(to_contract=new)

    assert (
        invoicing_services.contract_transition_roll_over(transition=transition, now=AFTER) is None
    )
    assert invoicing_services.contract_transitions_roll_over_due(now=AFTER) == 0
    assert Commit.objects.filter(contract=new).count() == 1
    assert BalanceLedgerEntry.objects.count() == 1
    # Even without the mark, what rolled over has left the earlier balance: nothing more rolls.
    ContractTransition.objects.update(rolled_over_at=None)
    assert invoicing_services.contract_transition_roll_over(transition=transition, now=AFTER) == []
    assert Commit.objects.filter(contract=new).count() == 1
    assert BalanceLedgerEntry.objects.count() == 1


def test_a_renewal_made_ahead_rolls_over_when_it_starts():
    old = _old()
    commit = _commit(old)
    new = _renew(old, now=datetime(2026, 12, 1, tzinfo=UTC))
    transition = ContractTransition.objects.get(to_contract=new)
    assert transition.rolled_over_at is None
    assert not Commit.objects.filter(contract=new).exists()
    _drawn(commit, "2000")  # December's usage, finalized before the renewal starts

    assert (
        invoicing_services.contract_transitions_roll_over_due(
            now=datetime(2026, 12, 31, tzinfo=UTC)
        )
        == 0
    )
    assert invoicing_services.contract_transitions_roll_over_due(now=AFTER) == 1

    assert Commit.objects.get(contract=new).access_schedule.get().amount == Decimal("4000")
    transition.refresh_from_db()
    assert transition.rolled_over_at == AFTER


def test_the_earlier_contract_ends_when_the_renewal_starts():
    open_ended = ContractFactory(starting_at=JAN_2026)
    _renew(open_ended, starting_at=JUL_2026, ending_before=JAN_2027)
    open_ended.refresh_from_db()
    assert open_ended.ending_before == JUL_2026

    longer = ContractFactory(starting_at=JAN_2026, ending_before=JAN_2028)
    _renew(longer)
    longer.refresh_from_db()
    assert longer.ending_before == JAN_2027

    earlier = ContractFactory(starting_at=JAN_2026, ending_before=JUL_2026)
    _renew(earlier)
    earlier.refresh_from_db()
    assert earlier.ending_before == JUL_2026


def test_supersede_ends_the_earlier_contract_without_rolling_over():
    old = ContractFactory(starting_at=JAN_2026)
    _commit(old)

    new = _renew(old, kind="SUPERSEDE", starting_at=JUL_2026)

    old.refresh_from_db()
    assert old.ending_before == JUL_2026
    assert ContractTransition.objects.get().type == "SUPERSEDE"
    assert not Commit.objects.filter(contract=new).exists()
    assert not BalanceLedgerEntry.objects.exists()


def test_the_transitions_of_both_contracts():
    old = _old()
    new = _renew(old)
    newer = _renew(new, starting_at=JAN_2028, ending_before=None)

    assert [
        (t.from_contract, t.to_contract) for t in selectors.contract_transitions(contract=new)
    ] == [
        (old, new),
        (new, newer),
    ]
    assert [t.to_contract for t in selectors.contract_transitions(contract=old)] == [new]


@pytest.mark.parametrize(
    ("case", "key", "message"),
    [
        ("unknown", "transition.from_contract_id", "No contract"),
        ("other customer", "transition.from_contract_id", "belongs to another customer"),
        ("archived", "transition.from_contract_id", "is archived"),
        ("followed", "transition.from_contract_id", "already transitioned to contract"),
        ("starts first", "starting_at", "starts after it"),
        ("not on the hour", "starting_at", "on the hour"),
        ("end not on the hour", "ending_before", "on the hour"),
    ],
)
def test_transition_errors(case, key, message):
    old = _old()
    kwargs = {}
    customer = old.customer
    source = old.pk
    if case == "unknown":
        source = "00000000-0000-4000-8000-000000000000"
    elif case == "other customer":
        customer = CustomerFactory()
    elif case == "archived":
        old.archived_at = JAN_2027
        old.save()
    elif case == "followed":
        _renew(old)
    elif case == "starts first":
        kwargs["starting_at"] = JAN_2026
    elif case == "not on the hour":
        kwargs["starting_at"] = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    elif case == "end not on the hour":
        kwargs["ending_before"] = datetime(2028, 1, 1, 0, 30, tzinfo=UTC)
    before = ContractTransition.objects.count()

    with pytest.raises(ValidationError) as error:
        services.contract_create(
            customer=customer,
            rate_card=old.rate_card,
            starting_at=kwargs.get("starting_at", JAN_2027 if case != "followed" else JAN_2028),
            ending_before=kwargs.get("ending_before"),
            now=AFTER,
            transition=services.TransitionSpec(from_contract_id=source),
        )

    assert key in error.value.message_dict
    assert message in error.value.message_dict[key][0]
    assert ContractTransition.objects.count() == before


def test_the_task_rolls_over_due_renewals(monkeypatch):
    from invoicing import tasks

    old = _old()
    _commit(old)
    new = _renew(old, now=datetime(2026, 12, 1, tzinfo=UTC))
    monkeypatch.setattr(tasks.timezone, "now", lambda: AFTER)

    assert tasks.roll_over_due_transitions() == 1
    assert Commit.objects.filter(contract=new).count() == 1


def test_the_admin_contract_page_shows_the_transition_and_the_rollover(admin_client):
    from django.urls import reverse

    old = _old()
    commit = _commit(old, name="Annual commit")
    new = _renew(old)
    rolled = Commit.objects.get(contract=new)

    page = admin_client.get(reverse("admin:customers_contract_change", args=[new.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Follows" in html and reverse("admin:customers_contract_change", args=[old.pk]) in html
    assert "Rollover prepaid commit" in html
    assert "Prepaid commit rollover" in html  # the ledger's rollover row
    assert reverse("admin:customers_commit_change", args=[commit.pk]) in html

    earlier = admin_client.get(reverse("admin:customers_contract_change", args=[old.pk]))
    assert "Followed by" in earlier.content.decode()
    assert rolled.rolled_over_from == commit


def test_the_admin_renew_action_renews_and_rolls_over(admin_client):
    from django.urls import reverse

    old = ContractFactory(
        starting_at=datetime(2025, 1, 1, tzinfo=UTC), ending_before=datetime(2026, 1, 1, tzinfo=UTC)
    )
    commit = CommitFactory(contract=old, rollover_fraction=Decimal(1))
    AccessSegmentFactory(
        commit=commit,
        amount=Decimal("4000"),
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
        ending_before=JUL_2026,
    )
    open_ended = ContractFactory(starting_at=JAN_2026)

    response = admin_client.post(
        reverse("admin:customers_contract_changelist"),
        {"action": "renew", "_selected_action": [str(old.pk), str(open_ended.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    transition = ContractTransition.objects.get()
    renewal = transition.to_contract
    assert transition.from_contract == old
    assert (renewal.starting_at, renewal.ending_before) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert Commit.objects.get(contract=renewal).access_schedule.get().amount == Decimal("4000")
    assert "Give it an end date first" in response.content.decode()


def test_a_rollover_commit_page_shows_where_it_came_from(admin_client):
    from django.urls import reverse

    old = _old()
    commit = _commit(old, name="Annual commit")
    rolled = Commit.objects.get(contract=_renew(old))

    page = admin_client.get(reverse("admin:customers_commit_change", args=[rolled.pk]))

    assert page.status_code == 200
    assert "Annual commit" in page.content.decode()
    assert rolled.rolled_over_from == commit


def test_a_contract_cannot_be_followed_from_inside_a_finalized_invoice():
    from tests.invoicing.factories import InvoiceFactory

    old = ContractFactory(starting_at=JAN_2026)
    InvoiceFactory(
        contract=old,
        status="FINALIZED",
        number=1,
        issued_at=JUL_2026,
        start_timestamp=datetime(2026, 6, 1, tzinfo=UTC),
        end_timestamp=JUL_2026,
    )
    with pytest.raises(ValidationError) as error:
        _renew(old, starting_at=datetime(2026, 6, 15, tzinfo=UTC))

    assert error.value.message_dict["transition.from_contract_id"] == [
        f"Contract {old.pk} has a finalized invoice ending 2026-07-01T00:00:00+00:00, after the "
        "new contract starts; void it first."
    ]
    assert _renew(old, starting_at=JUL_2026)  # from the end of what was billed: fine


def test_a_followed_contract_cannot_be_extended_past_its_successor():
    old = _old()
    new = _renew(old)

    for change in (
        lambda: services.contract_update_end_date(contract=old, ending_before=None, now=AFTER),
        lambda: services.contract_edit(contract=old, ending_before=JAN_2028, now=AFTER),
    ):
        with pytest.raises(ValidationError) as error:
            change()
        assert error.value.message_dict["ending_before"] == [
            f"Contract {new.pk} follows this one from 2027-01-01T00:00:00+00:00; it must end by "
            "then."
        ]
    assert services.contract_update_end_date(contract=old, ending_before=JUL_2026, now=AFTER)
