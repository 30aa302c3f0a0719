"""Revenue system configurations and configuration updates over raw HTTP: what a v2 edit
refuses (by field), and the `invoice.finalized` event carrying the revenue system configuration
in effect at the invoice's period (what an integration delivers; nothing is sent from here)."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from core.models import DomainEvent
from invoicing.models import Invoice
from invoicing.services import invoice_finalize
from tests.api.conftest import data, error
from tests.catalog.factories import RateCardFactory

NS = {"provider": "netsuite", "delivery_method": "direct_to_billing_provider"}


def _month_start(months_ahead: int = 0) -> datetime:
    now = timezone.now()
    month = now.month - 1 + months_ahead
    return datetime(now.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


@pytest.fixture
def setup(post, get):
    customer = data(
        post(
            "/v1/customers",
            {
                "name": "Ledgerly",
                "customer_revenue_system_configurations": [
                    {**NS, "configuration": {"netsuite_customer_id": "NS-1"}},
                    {**NS, "configuration": {"netsuite_customer_id": "NS-2"}},
                ],
            },
        )
    )["id"]
    configs = {
        c["configuration"]["netsuite_customer_id"]: c["id"]
        for c in data(get(f"/v1/customers/{customer}"))["customer_revenue_system_configurations"]
    }
    start = _month_start(-2)
    contract = data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": customer,
                "rate_card_id": str(RateCardFactory().pk),
                "starting_at": start.isoformat(),
                "revenue_system_configuration": {
                    "revenue_system_configuration_id": configs["NS-1"]
                },
            },
        )
    )["id"]
    return {"customer": customer, "contract": contract, "configs": configs, "start": start}


def _edit(post, setup, **body):
    return post(
        "/v2/contracts/edit",
        {"customer_id": setup["customer"], "contract_id": setup["contract"], **body},
    )


def _update(config_id: str, effective_at: str = "START_OF_CURRENT_PERIOD") -> dict:
    return {
        "revenue_system_configuration": {"revenue_system_configuration_id": config_id},
        "schedule": {"effective_at": effective_at},
    }


def test_finalized_invoices_carry_the_revenue_system_of_their_period(post, setup):
    data(
        _edit(
            post, setup, add_revenue_system_configuration_update=_update(setup["configs"]["NS-2"])
        )
    )
    drafts = {
        i.start_timestamp: i
        for i in Invoice.objects.filter(contract_id=setup["contract"], type="USAGE")
    }
    now = timezone.now()
    for start in (_month_start(-1), _month_start()):
        invoice_finalize(invoice=drafts[start], now=now)
    events = {
        e.payload["invoice_id"]: e.payload
        for e in DomainEvent.objects.filter(type="invoice.finalized")
    }
    before = events[str(drafts[_month_start(-1)].pk)]["revenue_system_configuration"]
    after = events[str(drafts[_month_start()].pk)]["revenue_system_configuration"]
    assert before == {
        "id": setup["configs"]["NS-1"],
        "provider": "netsuite",
        "delivery_method": "direct_to_billing_provider",
        "delivery_method_id": None,
        "configuration": {"netsuite_customer_id": "NS-1"},
    }
    assert after["id"] == setup["configs"]["NS-2"]


def test_an_invoice_of_a_contract_without_a_revenue_system_carries_none(post, setup):
    contract = data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": setup["customer"],
                "rate_card_id": str(RateCardFactory().pk),
                "starting_at": _month_start(-1).isoformat(),
            },
        )
    )["id"]
    draft = Invoice.objects.get(contract_id=contract, start_timestamp=_month_start(-1))
    invoice_finalize(invoice=draft, now=timezone.now())
    (event,) = DomainEvent.objects.filter(type="invoice.finalized")
    assert "revenue_system_configuration" not in event.payload


def test_edit_errors_name_the_field(post, setup):
    assert error(
        _edit(
            post,
            setup,
            add_revenue_system_configuration_update=_update(setup["configs"]["NS-2"], "SOON"),
        ),
        400,
    ) == (
        'add_revenue_system_configuration_update.schedule.effective_at: "SOON" is not a valid '
        "choice."
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error(
        _edit(post, setup, add_revenue_system_configuration_update=_update(unknown)), 400
    ) == (
        "add_revenue_system_configuration_update.revenue_system_configuration."
        f"revenue_system_configuration_id: {unknown} is not an active revenue system "
        f"configuration of customer {setup['customer']}."
    )
    assert error(
        _edit(
            post,
            setup,
            add_billing_provider_configuration_update={
                "billing_provider_configuration": {"billing_provider": "stripe"},
                "schedule": {"effective_at": "START_OF_NEXT_PERIOD"},
            },
        ),
        400,
    ) == (
        "add_billing_provider_configuration_update.billing_provider_configuration: Customer "
        f"{setup['customer']} has no active stripe billing provider configuration delivered by "
        "direct_to_billing_provider (set one with setCustomerBillingProviderConfigurations)."
    )
    assert error(
        _edit(
            post,
            setup,
            add_billing_provider_configuration_update={
                "billing_provider_configuration": {"billing_provider": "paypal"},
                "schedule": {"effective_at": "START_OF_NEXT_PERIOD"},
            },
        ),
        400,
    ).startswith(
        "add_billing_provider_configuration_update.billing_provider_configuration."
        "billing_provider: 'paypal' is not one of stripe, "
    )
    data(_edit(post, setup, update_contract_end_date=_month_start(1).isoformat()))
    assert error(
        _edit(
            post,
            setup,
            add_revenue_system_configuration_update=_update(
                setup["configs"]["NS-2"], "START_OF_NEXT_PERIOD"
            ),
        ),
        400,
    ) == (
        "add_revenue_system_configuration_update.schedule.effective_at: The contract ends with "
        "its current period."
    )
