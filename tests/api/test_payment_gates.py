"""Payment-gated threshold billing (EXTERNAL gates, the release endpoint, the API's 400s): a
gated purchase is invoiced at once but holds nothing until its payment is reported; paid, the
draft draws it; cancelled, the commit and its invoice are voided and the threshold buys again.
Stripe gates are in tests/payments/test_payment_gates.py."""

from datetime import timedelta
from decimal import Decimal

import pytest

from core.models import DomainEvent
from customers.models import BillingProviderConfiguration, Commit, Contract, PaymentGate
from customers.services import payment_gate_retry_at
from invoicing.models import Invoice
from invoicing.payment_gates import payment_gate_settle
from invoicing.selectors import invoice_view
from invoicing.threshold_billing import thresholds_check_all
from tests.api.conftest import UNKNOWN, data, error
from tests.api.test_threshold_billing import _contract, _now, world  # noqa: F401
from tests.invoicing.factories import ingest

RELEASE = "/v1/contracts/commits/threshold-billing/release"


def _gated(world, gate: dict, **extra) -> dict:  # noqa: F811
    return {
        "commit": {"product_id": str(world["fixed"].pk), "name": "Top-up"},
        "is_enabled": True,
        "payment_gate_config": gate,
        **extra,
    }


def _usage(world, tokens: str, now, transaction_id="t1"):  # noqa: F811
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


@pytest.fixture
def spend(post, world):  # noqa: F811
    """A contract with an EXTERNAL-gated spend threshold of 1000, and 2500 of usage on its
    draft: one evaluation buys 2000, gated."""
    contract_id = _contract(
        post,
        world,
        spend_threshold_configuration=_gated(
            world, {"payment_gate_type": "EXTERNAL"}, threshold_amount=1000
        ),
    )
    now = _now()
    _usage(world, "1250", now)
    assert thresholds_check_all(now=now) == 1
    draft = Invoice.objects.get(contract_id=contract_id, type="USAGE", status="DRAFT")
    return {"contract_id": contract_id, "draft": draft, "gate": PaymentGate.objects.get()}


def test_a_gated_purchase_is_invoiced_at_once_but_holds_nothing_until_paid(spend):
    gate, draft = spend["gate"], spend["draft"]
    now = _now()
    assert (gate.status, gate.gate_type, gate.amount) == ("PENDING", "EXTERNAL", Decimal(2000))
    assert not gate.commit.access_schedule.exists()
    # Its own invoice, finalized: 2000 owed for the commit.
    invoice = Invoice.objects.get(pk=gate.invoice_id)
    assert (invoice.type, invoice.status, invoice.total) == ("SCHEDULED", "FINALIZED", 2000)
    # The usage draws nothing from it: the draft still asks for 2500.
    assert invoice_view(invoice=draft, now=now).total == Decimal(2500)
    # No second purchase while it waits.
    assert thresholds_check_all(now=now) == 0
    events = DomainEvent.objects.filter(type__startswith="payment_gate.").order_by("id")
    assert [e.type for e in events] == [
        "payment_gate.threshold_reached",
        "payment_gate.external_initiate",
    ]
    assert events[1].payload == {
        "workflow_id": str(gate.pk),
        "customer_id": str(gate.customer_id),
        "contract_id": spend["contract_id"],
        "commit_id": str(gate.commit_id),
        "invoice_id": str(invoice.pk),
        "amount": "2000",
        "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "commit_amount": "2000",
        "commit_credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
        "payment_gate_type": "EXTERNAL",
        "payment_type": None,
        "threshold_kind": "SPEND",
    }


def _listed(post, gate) -> dict:
    (shown,) = data(
        post(
            "/v1/contracts/customerBalances/list",
            {
                "customer_id": str(gate.customer_id),
                "include_contract_balances": True,
                "include_balance": True,
            },
        )
    )
    return {k: shown[k] for k in ("balance", "payment_gate", "access_schedule")}


def test_release_paid_makes_the_draft_draw_the_commit_and_repeats_are_idempotent(post, spend):
    gate, draft = spend["gate"], spend["draft"]
    pending = _listed(post, gate)
    assert (pending["balance"], pending["payment_gate"]["status"]) == (0, "PENDING")
    assert pending["access_schedule"]["schedule_items"] == []
    body = {"workflow_id": str(gate.pk), "outcome": "paid"}
    assert post(RELEASE, body).json() == {}
    released = _listed(post, gate)
    assert released["payment_gate"] == {
        "workflow_id": str(gate.pk),
        "payment_gate_type": "EXTERNAL",
        "status": "PAID",
        "amount": 2000,
        "invoice_id": str(gate.invoice_id),
    }
    # Released, the usage's 2500 draws all of it at once.
    assert released["access_schedule"]["schedule_items"][0]["amount"] == 2000
    assert released["balance"] == 0
    gate.refresh_from_db()
    assert (gate.status, gate.resolved_by) == ("PAID", "api")
    assert [s.amount for s in gate.commit.access_schedule.all()] == [Decimal(2000)]
    assert invoice_view(invoice=draft, now=_now()).total == Decimal(500)
    # The same outcome again: nothing changes; the other outcome: 409.
    assert post(RELEASE, {**body, "outcome": "PAID"}).status_code == 200
    assert gate.commit.access_schedule.count() == 1
    assert (
        error(post(RELEASE, {**body, "outcome": "cancelled"}), 409)
        == f"outcome: The payment gate {gate.pk} was already paid; its commit is released and "
        "cannot be cancelled (edit or archive the commit instead)."
    )
    statuses = DomainEvent.objects.filter(type="payment_gate.payment_status")
    assert [e.payload["payment_status"] for e in statuses] == ["paid"]
    # Released: the threshold is at rest until the usage reaches it again.
    assert thresholds_check_all(now=_now()) == 0


def test_release_cancelled_voids_the_commit_and_its_invoice_and_the_threshold_buys_again(
    post, spend
):
    gate, draft = spend["gate"], spend["draft"]
    body = {
        "workflow_id": str(gate.pk),
        "outcome": "cancelled",
        "customer_id": str(gate.customer_id),
        "contract_id": spend["contract_id"],
    }
    assert post(RELEASE, body).status_code == 200
    gate.refresh_from_db()
    assert gate.status == "FAILED"
    assert Commit.objects.get(pk=gate.commit_id).archived_at == gate.resolved_at
    assert Invoice.objects.get(pk=gate.invoice_id).status == "VOID"
    assert invoice_view(invoice=draft, now=_now()).total == Decimal(2500)
    assert post(RELEASE, {**body, "outcome": "failed"}).status_code == 200
    assert "was already cancelled" in error(post(RELEASE, {**body, "outcome": "paid"}), 409)
    # The threshold cools down as after a declined card: not in the next 5-minute runs, but an
    # hour after the cancellation it buys again, on an invoice of its own.
    assert payment_gate_retry_at(contract_id=gate.contract_id, kind="SPEND") == (
        gate.resolved_at + timedelta(hours=1)
    )
    for minutes in (0, 5, 59):
        assert thresholds_check_all(now=gate.resolved_at + timedelta(minutes=minutes)) == 0
    assert thresholds_check_all(now=gate.resolved_at + timedelta(hours=1)) == 1
    again = PaymentGate.objects.get(status="PENDING")
    assert again.pk != gate.pk and again.invoice_id != gate.invoice_id
    assert Invoice.objects.get(pk=again.invoice_id).status == "FINALIZED"


def test_an_external_gate_failed_twice_in_a_row_cools_down_two_hours(post, spend):
    first = spend["gate"]
    post(RELEASE, {"workflow_id": str(first.pk), "outcome": "failed"})
    first.refresh_from_db()
    t1 = first.resolved_at + timedelta(hours=1)
    assert thresholds_check_all(now=t1) == 1
    second = PaymentGate.objects.get(status="PENDING")
    second_failed = t1 + timedelta(minutes=10)
    payment_gate_settle(gate=second, outcome="failed", now=second_failed, by="api")
    retry = second_failed + timedelta(hours=2)
    assert payment_gate_retry_at(contract_id=first.contract_id, kind="SPEND") == retry
    assert thresholds_check_all(now=retry - timedelta(minutes=5)) == 0
    assert thresholds_check_all(now=retry) == 1


def test_release_errors(post, spend):
    gate = spend["gate"]
    assert (
        error(post(RELEASE, {"workflow_id": UNKNOWN, "outcome": "paid"}), 404)
        == f"Payment gate workflow {UNKNOWN} not found."
    )
    assert error(post(RELEASE, {"workflow_id": "nope", "outcome": "paid"}), 400).startswith(
        "workflow_id:"
    )
    assert (
        error(post(RELEASE, {"workflow_id": str(gate.pk), "outcome": "maybe"}), 400)
        == "outcome: Must be paid or failed (or cancelled)."
    )
    assert error(post(RELEASE, {"outcome": "paid"}), 400) == "workflow_id: This field is required."
    assert error(
        post(RELEASE, {"workflow_id": str(gate.pk), "outcome": "paid", "contract_id": UNKNOWN}),
        404,
    ).startswith("contract_id: payment gate workflow")
    PaymentGate.objects.filter(pk=gate.pk).update(gate_type="STRIPE", payment_type="INVOICE")
    assert (
        error(post(RELEASE, {"workflow_id": str(gate.pk), "outcome": "paid"}), 400)
        == "workflow_id: This workflow is a Stripe gate: Stripe reports its payment."
    )


def _create(post, world, config):  # noqa: F811
    return post(
        "/v1/contracts/create",
        {
            "customer_id": str(world["customer"].pk),
            "rate_card_id": str(world["card"].pk),
            "starting_at": "2026-01-01T00:00:00Z",
            "spend_threshold_configuration": _gated(world, config, threshold_amount=1000),
        },
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"payment_gate_type": "STRIPE"},
            "payment_gate_config.stripe_config: A STRIPE gate needs stripe_config.payment_type.",
        ),
        (
            {"payment_gate_type": "EXTERNAL", "stripe_config": {"payment_type": "INVOICE"}},
            "payment_gate_config.stripe_config: Only a STRIPE payment gate takes a stripe_config.",
        ),
        (
            {"payment_gate_type": "STRIPE", "stripe_config": {"payment_type": "CHEQUE"}},
            "payment_gate_config.stripe_config.payment_type: ",
        ),
        (
            {"payment_gate_type": "EXTERNAL", "tax_type": "ANROK"},
            "payment_gate_config.tax_type: ANROK needs an Anrok integration, which this product "
            "does not have; use NONE, PRECALCULATED or (with a STRIPE gate) STRIPE.",
        ),
        (
            {"payment_gate_type": "EXTERNAL", "tax_type": "STRIPE"},
            "payment_gate_config.tax_type: STRIPE tax needs a STRIPE gate paid by INVOICE.",
        ),
        (
            {"payment_gate_type": "EXTERNAL", "tax_type": "PRECALCULATED"},
            "payment_gate_config.precalculated_tax_config: Given with tax_type PRECALCULATED, "
            "and only then.",
        ),
        (
            {
                "payment_gate_type": "STRIPE",
                "stripe_config": {"payment_type": "PAYMENT_INTENT", "invoice_metadata": {"a": "b"}},
            },
            "payment_gate_config.stripe_config.invoice_metadata: Only with payment_type INVOICE.",
        ),
        (
            {"payment_gate_type": "STRIPE", "stripe_config": {"payment_type": "INVOICE"}},
            "payment_gate_config.payment_gate_type: A STRIPE gate needs the customer's Stripe "
            "billing provider configuration; add one first.",
        ),
    ],
)
def test_payment_gate_config_errors(post, world, config, message):  # noqa: F811
    assert error(_create(post, world, config), 400).startswith(
        f"spend_threshold_configuration.{message}"
    )


def test_gates_are_stored_shown_and_edited(post, world):  # noqa: F811
    BillingProviderConfiguration.objects.create(
        customer=world["customer"],
        billing_provider="stripe",
        billing_provider_customer_id="cus_Gated1",
    )
    gate = {
        "payment_gate_type": "EXTERNAL",
        "tax_type": "PRECALCULATED",
        "precalculated_tax_config": {"tax_amount": 12.5, "tax_name": "VAT"},
    }
    contract_id = data(_create(post, world, gate))["id"]
    ref = {"contract_id": contract_id, "customer_id": str(world["customer"].pk)}
    got = data(post("/v2/contracts/get", ref))["spend_threshold_configuration"]
    assert got["payment_gate_config"] == gate
    stripe = {
        "payment_gate_type": "STRIPE",
        "stripe_config": {"payment_type": "INVOICE", "invoice_metadata": {"po": "42"}},
        "tax_type": "STRIPE",
    }
    post(
        "/v2/contracts/edit",
        {**ref, "update_spend_threshold_configuration": {"payment_gate_config": stripe}},
    )
    got = data(post("/v2/contracts/get", ref))["spend_threshold_configuration"]
    assert got["payment_gate_config"] == stripe
    stored = Contract.objects.get(pk=contract_id).spend_threshold_configuration
    assert stored["payment_gate_config"]["stripe_config"]["invoice_metadata"] == {"po": "42"}
    bad = post(
        "/v2/contracts/edit",
        {
            **ref,
            "update_spend_threshold_configuration": {
                "payment_gate_config": {"payment_gate_type": "EXTERNAL", "tax_type": "ANROK"}
            },
        },
    )
    assert error(bad, 400).startswith(
        "update_spend_threshold_configuration.payment_gate_config.tax_type: ANROK needs"
    )
