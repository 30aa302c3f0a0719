"""Every method of the official SDK (metronome-sdk 4.12.0), called once against the product in
strict mode, and what each answered: the coverage count of issue 14.

`sdk_methods()` walks the client's resources, so a method the table below forgets is reported,
never silently skipped. `run(client, world)` calls each method with valid arguments on `world`
(made by `build_world`) and classifies the answer:

- `ok`: a 2xx whose body passed the SDK's strict response validation;
- `4xx <status>: <message>`: refused (expected of the legacy methods);
- `5xx` / `invalid response`: a failure of ours, whatever the method.

Methods fall in three groups: ours (contracts, catalog, customers, usage, invoices), the legacy
Plans-era ones (answered with a 4xx saying contracts replace them), and those other issues own
(notifications, getting paid, the finance desk, customer-facing), counted once they land.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import metronome
from metronome._resource import SyncAPIResource

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"

LEGACY = frozenset(
    {
        "v1.credit_grants.create",
        "v1.credit_grants.edit",
        "v1.credit_grants.list",
        "v1.credit_grants.list_entries",
        "v1.credit_grants.void",
        "v1.plans.get_details",
        "v1.plans.list",
        "v1.plans.list_charges",
        "v1.plans.list_customers",
        "v1.customers.plans.add",
        "v1.customers.plans.end",
        "v1.customers.plans.list",
        "v1.customers.plans.list_price_adjustments",
        "v1.customers.invoices.add_charge",
    }
)

OWNED_ELSEWHERE = {
    "v1.alerts.archive": "notifications",
    "v1.alerts.create": "notifications",
    "v1.customers.alerts.list": "notifications",
    "v1.customers.alerts.reset": "notifications",
    "v1.customers.alerts.retrieve": "notifications",
    "v2.notifications.offset.archive": "notifications",
    "v2.notifications.offset.create": "notifications",
    "v2.notifications.offset.edit": "notifications",
    "v2.notifications.offset.list": "notifications",
    "v2.notifications.offset.retrieve": "notifications",
    "v2.notifications.system.list": "notifications",
    "v1.customers.archive_billing_configurations": "payments",
    "v1.customers.billing_config.create": "payments",
    "v1.customers.billing_config.delete": "payments",
    "v1.customers.billing_config.retrieve": "payments",
    "v1.customers.retrieve_billing_configurations": "payments",
    "v1.customers.set_billing_configurations": "payments",
    "v1.settings.billing_providers.create": "payments",
    "v1.settings.billing_providers.list": "payments",
    "v1.settings.upsert_avalara_credentials": "payments",
    "v1.audit_logs.list": "finance desk",
    "v1.customers.invoices.retrieve_pdf": "customer-facing",
    "v1.customers.invoices.list_breakdowns": "customer-facing",
    "v1.customers.list_costs": "customer-facing",
    "v1.dashboards.get_embeddable_url": "customer-facing",
}


def sdk_methods() -> list[str]:
    """Every public method of the SDK's synchronous resources, as `v1.contracts.amend`."""
    client = metronome.Metronome(base_url="http://127.0.0.1:9", bearer_token="x")
    found: list[str] = []

    def walk(resource, prefix: str) -> None:
        for name, member in inspect.getmembers(type(resource)):
            if name.startswith("_") or name in ("with_raw_response", "with_streaming_response"):
                continue
            if inspect.isfunction(member):
                found.append(f"{prefix}.{name}")
            else:
                child = getattr(resource, name, None)
                if isinstance(child, SyncAPIResource):
                    walk(child, f"{prefix}.{name}")

    walk(client.v1, "v1")
    walk(client.v2, "v2")
    client.close()
    return sorted(found)


def group_of(method: str) -> str:
    if method in LEGACY:
        return "legacy"
    if method in OWNED_ELSEWHERE:
        return f"owned elsewhere ({OWNED_ELSEWHERE[method]})"
    return "ours"


@dataclass(frozen=True)
class Outcome:
    method: str
    group: str
    answer: str

    @property
    def ok(self) -> bool:
        return self.answer == "ok"

    @property
    def server_error(self) -> bool:
        return self.answer.startswith(("5xx", "invalid response", "error"))


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def build_world(client: metronome.Metronome) -> dict:
    """A small but complete offering and one customer with a contract holding every term,
    started last month (so ingested events, a finalized invoice and a draft all exist)."""
    now = datetime.now(UTC)
    start = _month_start(_month_start(now) - timedelta(days=1))
    metric = client.v1.billable_metrics.create(
        name="Tokens",
        event_type_filter={"in_values": ["api_call"]},
        property_filters=[{"name": "region", "exists": True}],
        aggregation_type="SUM",
        aggregation_key="tokens",
        group_keys=[["region"], ["user_id"]],
    ).data.id
    sql_metric = client.v1.billable_metrics.create(
        name="Calls (SQL)",
        sql="SELECT COUNT(*) AS value FROM events WHERE event_type = 'api_call'",
    ).data.id
    usage = client.v1.contracts.products.create(
        name="API calls", type="USAGE", billable_metric_id=metric, pricing_group_key=["region"]
    ).data.id
    fixed = client.v1.contracts.products.create(name="Prepaid", type="FIXED").data.id
    seats = client.v1.contracts.products.create(name="Seats", type="SUBSCRIPTION").data.id
    service = client.v1.contracts.products.create(
        name="Onboarding", type="PROFESSIONAL_SERVICE"
    ).data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            {
                "product_id": usage,
                "entitled": True,
                "rate_type": "FLAT",
                "price": 2,
                "pricing_group_values": {"region": "eu"},
                "starting_at": start,
            },
            {
                "product_id": seats,
                "entitled": True,
                "rate_type": "SUBSCRIPTION",
                "price": 1000,
                "billing_frequency": "MONTHLY",
                "starting_at": start,
            },
        ],
    )
    customer = client.v1.customers.create(name="Acme", ingest_aliases=["acme-sdk"]).data.id
    created = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=start,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        commits=[
            {
                "product_id": fixed,
                "type": "PREPAID",
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 10000,
                            "starting_at": start,
                            "ending_before": start.replace(year=start.year + 1),
                        }
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": start, "amount": 9000}]},
            }
        ],
        credits=[
            {
                "product_id": fixed,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 500,
                            "starting_at": start,
                            "ending_before": start.replace(year=start.year + 1),
                        }
                    ]
                },
            }
        ],
        subscriptions=[
            {
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True},
                "subscription_rate": {"product_id": seats, "billing_frequency": "MONTHLY"},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": ["u1", "u2"]},
            }
        ],
        professional_services=[
            {"product_id": service, "unit_price": 15000, "quantity": 2, "max_amount": 30000}
        ],
    ).data.id
    contract = client.v2.contracts.retrieve(contract_id=created, customer_id=customer).data
    at = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    transaction_id = str(uuid.uuid4())
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": transaction_id,
                "customer_id": "acme-sdk",
                "event_type": "api_call",
                "timestamp": at.isoformat(),
                "properties": {"tokens": "100", "region": "eu", "user_id": "u1"},
            }
        ]
    )
    return {
        "start": start,
        "now": now,
        "metric": metric,
        "sql_metric": sql_metric,
        "usage_product": usage,
        "fixed_product": fixed,
        "subscription_product": seats,
        "service_product": service,
        "rate_card": card,
        "customer": customer,
        "contract": created,
        "commit": contract.commits[0].id,
        "segment": contract.commits[0].access_schedule.schedule_items[0].id,
        "credit": contract.credits[0].id,
        "subscription": contract.subscriptions[0].id,
        "professional_service": contract.professional_services[0].id,
        "transaction_id": transaction_id,
    }


Call = Callable[[metronome.Metronome, dict], object]


def _finalized_invoice(client, w) -> str:
    """The finalized usage invoice of last month (the world's `finalize` made it)."""
    for invoice in client.v1.customers.invoices.list(customer_id=w["customer"]):
        if invoice.status == "FINALIZED" and invoice.type == "USAGE":
            return invoice.id
    raise LookupError("no finalized invoice")


def _voided_invoice(client, w) -> str:
    for invoice in client.v1.customers.invoices.list(customer_id=w["customer"], status="VOID"):
        return invoice.id
    raise LookupError("no voided invoice")


def _draft_invoice(client, w) -> str:
    for invoice in client.v1.customers.invoices.list(customer_id=w["customer"], status="DRAFT"):
        return invoice.id
    raise LookupError("no draft")


def _billing_configuration(client, w) -> str:
    """A Stripe billing configuration of the world's customer, made to be archived."""
    made = client.v1.customers.set_billing_configurations(
        data=[
            {
                "customer_id": w["customer"],
                "billing_provider": "stripe",
                "delivery_method": "direct_to_billing_provider",
                "configuration": {
                    "stripe_customer_id": "cus_archived",
                    "stripe_collection_method": "send_invoice",
                },
            }
        ]
    )
    return made.data[0].id


def _list(pager) -> list:
    return list(pager)


def _later(w, days: int) -> datetime:
    """An hour boundary `days` after the world's start (inside its year-long balances)."""
    return w["start"] + timedelta(days=days)


def _next_month(w) -> datetime:
    return _month_start(_month_start(w["now"]) + timedelta(days=32))


def _day(w) -> datetime:
    return w["now"].replace(hour=0, minute=0, second=0, microsecond=0)


CALLS: dict[str, Call] = {
    # --- Billable metrics, pricing units -------------------------------------------------------
    "v1.billable_metrics.create": lambda c, w: c.v1.billable_metrics.create(
        name="Count", aggregation_type="COUNT"
    ),
    "v1.billable_metrics.retrieve": lambda c, w: c.v1.billable_metrics.retrieve(
        billable_metric_id=w["sql_metric"]
    ),
    "v1.billable_metrics.list": lambda c, w: _list(c.v1.billable_metrics.list()),
    "v1.billable_metrics.update": lambda c, w: c.v1.billable_metrics.update(
        billable_metric_id=w["metric"], name="Tokens!"
    ),
    "v1.billable_metrics.archive": lambda c, w: c.v1.billable_metrics.archive(
        id=c.v1.billable_metrics.create(name="Old", aggregation_type="COUNT").data.id
    ),
    "v1.pricing_units.create": lambda c, w: c.v1.pricing_units.create(name="credits"),
    "v1.pricing_units.list": lambda c, w: _list(c.v1.pricing_units.list()),
    "v1.pricing_units.archive": lambda c, w: c.v1.pricing_units.archive(
        id=c.v1.pricing_units.create(name="old credits").data.id
    ),
    # --- Products, rate cards, rates, named schedules, product order -----------------------------
    "v1.contracts.products.create": lambda c, w: c.v1.contracts.products.create(
        name="Support", type="FIXED"
    ),
    "v1.contracts.products.retrieve": lambda c, w: c.v1.contracts.products.retrieve(
        id=w["usage_product"]
    ),
    "v1.contracts.products.list": lambda c, w: _list(c.v1.contracts.products.list()),
    "v1.contracts.products.update": lambda c, w: c.v1.contracts.products.update(
        product_id=w["fixed_product"], starting_at=w["start"], name="Prepaid commit"
    ),
    "v1.contracts.products.archive": lambda c, w: c.v1.contracts.products.archive(
        product_id=c.v1.contracts.products.create(name="Old", type="FIXED").data.id
    ),
    "v1.contracts.rate_cards.create": lambda c, w: c.v1.contracts.rate_cards.create(name="Other"),
    "v1.contracts.rate_cards.retrieve": lambda c, w: c.v1.contracts.rate_cards.retrieve(
        id=w["rate_card"]
    ),
    "v1.contracts.rate_cards.list": lambda c, w: _list(c.v1.contracts.rate_cards.list()),
    "v1.contracts.rate_cards.update": lambda c, w: c.v1.contracts.rate_cards.update(
        rate_card_id=w["rate_card"], description="The list prices"
    ),
    "v1.contracts.rate_cards.archive": lambda c, w: c.v1.contracts.rate_cards.archive(
        id=c.v1.contracts.rate_cards.create(name="Old card").data.id
    ),
    "v1.contracts.rate_cards.rates.add": lambda c, w: c.v1.contracts.rate_cards.rates.add(
        rate_card_id=w["rate_card"],
        product_id=w["usage_product"],
        entitled=True,
        rate_type="FLAT",
        price=3,
        pricing_group_values={"region": "us"},
        starting_at=w["start"],
    ),
    "v1.contracts.rate_cards.rates.add_many": lambda c, w: c.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=w["rate_card"],
        rates=[
            {
                "product_id": w["usage_product"],
                "entitled": True,
                "rate_type": "FLAT",
                "price": 4,
                "pricing_group_values": {"region": "ap"},
                "starting_at": w["start"],
            }
        ],
    ),
    "v1.contracts.rate_cards.rates.list": lambda c, w: _list(
        c.v1.contracts.rate_cards.rates.list(rate_card_id=w["rate_card"], at=w["now"])
    ),
    "v1.contracts.rate_cards.retrieve_rate_schedule": (
        lambda c, w: c.v1.contracts.rate_cards.retrieve_rate_schedule(
            rate_card_id=w["rate_card"], starting_at=w["start"]
        )
    ),
    "v1.contracts.rate_cards.product_orders.set": (
        lambda c, w: c.v1.contracts.rate_cards.product_orders.set(
            rate_card_id=w["rate_card"],
            product_order=[w["subscription_product"], w["usage_product"]],
        )
    ),
    "v1.contracts.rate_cards.product_orders.update": (
        lambda c, w: c.v1.contracts.rate_cards.product_orders.update(
            rate_card_id=w["rate_card"],
            product_moves=[{"product_id": w["usage_product"], "position": 0}],
        )
    ),
    "v1.contracts.named_schedules.update": lambda c, w: c.v1.contracts.named_schedules.update(
        rate_card_id=w["rate_card"],
        schedule_name="fx",
        starting_at=w["start"],
        value={"rate": "1.1"},
    ),
    "v1.contracts.named_schedules.retrieve": lambda c, w: c.v1.contracts.named_schedules.retrieve(
        rate_card_id=w["rate_card"], schedule_name="fx"
    ),
    "v1.contracts.rate_cards.named_schedules.update": (
        lambda c, w: c.v1.contracts.rate_cards.named_schedules.update(
            contract_id=w["contract"],
            customer_id=w["customer"],
            schedule_name="discount",
            starting_at=w["start"],
            value=0.1,
        )
    ),
    "v1.contracts.rate_cards.named_schedules.retrieve": (
        lambda c, w: c.v1.contracts.rate_cards.named_schedules.retrieve(
            contract_id=w["contract"], customer_id=w["customer"], schedule_name="discount"
        )
    ),
    "v1.contracts.rate_cards.named_schedules.list": lambda c, w: _list(
        c.v1.contracts.rate_cards.named_schedules.list(customer_id=w["customer"])
    ),
    "v1.customers.named_schedules.update": lambda c, w: c.v1.customers.named_schedules.update(
        customer_id=w["customer"], schedule_name="tier", starting_at=w["start"], value="gold"
    ),
    "v1.customers.named_schedules.retrieve": lambda c, w: c.v1.customers.named_schedules.retrieve(
        customer_id=w["customer"], schedule_name="tier"
    ),
    # --- Packages -------------------------------------------------------------------------------
    "v1.packages.create": lambda c, w: c.v1.packages.create(
        name="Starter", rate_card_id=w["rate_card"]
    ),
    "v1.packages.retrieve": lambda c, w: c.v1.packages.retrieve(
        package_id=c.v1.packages.create(name="P", rate_card_id=w["rate_card"]).data.id
    ),
    "v1.packages.list": lambda c, w: _list(c.v1.packages.list()),
    "v1.packages.archive": lambda c, w: c.v1.packages.archive(
        package_id=c.v1.packages.create(name="Old", rate_card_id=w["rate_card"]).data.id
    ),
    "v1.packages.list_contracts_on_package": lambda c, w: _list(
        c.v1.packages.list_contracts_on_package(
            package_id=c.v1.packages.create(name="Q", rate_card_id=w["rate_card"]).data.id
        )
    ),
    # --- Customers ------------------------------------------------------------------------------
    "v1.customers.create": lambda c, w: c.v1.customers.create(name="Globex"),
    "v1.customers.retrieve": lambda c, w: c.v1.customers.retrieve(customer_id=w["customer"]),
    "v1.customers.list": lambda c, w: _list(c.v1.customers.list()),
    "v1.customers.archive": lambda c, w: c.v1.customers.archive(
        id=c.v1.customers.create(name="Gone").data.id
    ),
    "v1.customers.set_ingest_aliases": lambda c, w: c.v1.customers.set_ingest_aliases(
        customer_id=w["customer"], ingest_aliases=["acme-sdk", "acme-2"]
    ),
    "v1.customers.set_name": lambda c, w: c.v1.customers.set_name(
        customer_id=w["customer"], name="Acme Inc."
    ),
    "v1.customers.update_config": lambda c, w: c.v1.customers.update_config(
        customer_id=w["customer"], salesforce_account_id="0015000000XyZ"
    ),
    "v1.customers.list_billable_metrics": lambda c, w: _list(
        c.v1.customers.list_billable_metrics(customer_id=w["customer"])
    ),
    "v1.customers.preview_events": lambda c, w: c.v1.customers.preview_events(
        customer_id=w["customer"],
        events=[
            {
                "event_type": "api_call",
                "timestamp": w["now"].isoformat(),
                "properties": {"tokens": "50", "region": "eu"},
            }
        ],
    ),
    # --- Custom fields --------------------------------------------------------------------------
    "v1.custom_fields.add_key": lambda c, w: c.v1.custom_fields.add_key(
        entity="customer", key="segment", enforce_uniqueness=False
    ),
    "v1.custom_fields.list_keys": lambda c, w: _list(c.v1.custom_fields.list_keys()),
    "v1.custom_fields.set_values": lambda c, w: c.v1.custom_fields.set_values(
        entity="customer", entity_id=w["customer"], custom_fields={"segment": "enterprise"}
    ),
    "v1.custom_fields.delete_values": lambda c, w: c.v1.custom_fields.delete_values(
        entity="customer", entity_id=w["customer"], keys=["segment"]
    ),
    "v1.custom_fields.remove_key": lambda c, w: c.v1.custom_fields.remove_key(
        entity="customer", key="segment"
    ),
    # --- Contracts ------------------------------------------------------------------------------
    "v1.contracts.create": lambda c, w: c.v1.contracts.create(
        customer_id=w["customer"],
        rate_card_id=w["rate_card"],
        starting_at=w["now"].replace(
            year=w["now"].year + 5, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        ),
    ),
    "v1.contracts.retrieve": lambda c, w: c.v1.contracts.retrieve(
        contract_id=w["contract"], customer_id=w["customer"], include_balance=True
    ),
    "v1.contracts.list": lambda c, w: _list(c.v1.contracts.list(customer_id=w["customer"])),
    "v2.contracts.retrieve": lambda c, w: c.v2.contracts.retrieve(
        contract_id=w["contract"], customer_id=w["customer"], include_ledgers=True
    ),
    "v2.contracts.list": lambda c, w: _list(c.v2.contracts.list(customer_id=w["customer"])),
    "v2.contracts.edit": lambda c, w: c.v2.contracts.edit(
        contract_id=w["contract"], customer_id=w["customer"], update_contract_name="Main"
    ),
    "v2.contracts.edit_commit": lambda c, w: c.v2.contracts.edit_commit(
        commit_id=w["commit"], customer_id=w["customer"], priority=5
    ),
    "v2.contracts.edit_credit": lambda c, w: c.v2.contracts.edit_credit(
        credit_id=w["credit"], customer_id=w["customer"], name="Welcome credit"
    ),
    "v2.contracts.get_edit_history": lambda c, w: c.v2.contracts.get_edit_history(
        contract_id=w["contract"], customer_id=w["customer"]
    ),
    "v1.contracts.amend": lambda c, w: c.v1.contracts.amend(
        contract_id=w["contract"],
        customer_id=w["customer"],
        starting_at=_month_start(w["now"]),
        overrides=[
            {
                "starting_at": _month_start(w["now"]),
                "product_id": w["usage_product"],
                "type": "MULTIPLIER",
                "multiplier": 0.9,
            }
        ],
    ),
    "v1.contracts.update_end_date": lambda c, w: c.v1.contracts.update_end_date(
        contract_id=w["contract"],
        customer_id=w["customer"],
        ending_before=w["start"].replace(year=w["start"].year + 2),
    ),
    "v1.contracts.archive": lambda c, w: c.v1.contracts.archive(
        contract_id=c.v1.contracts.create(
            customer_id=w["customer"], rate_card_id=w["rate_card"], starting_at=w["start"]
        ).data.id,
        customer_id=w["customer"],
        void_invoices=False,
    ),
    "v1.contracts.retrieve_rate_schedule": lambda c, w: c.v1.contracts.retrieve_rate_schedule(
        contract_id=w["contract"], customer_id=w["customer"], at=w["now"]
    ),
    "v1.contracts.set_usage_filter": lambda c, w: c.v1.contracts.set_usage_filter(
        contract_id=w["contract"],
        customer_id=w["customer"],
        group_key="region",
        group_values=["eu", "us"],
        starting_at=_month_start(w["now"]),
    ),
    "v1.contracts.retrieve_subscription_quantity_history": (
        lambda c, w: c.v1.contracts.retrieve_subscription_quantity_history(
            contract_id=w["contract"], customer_id=w["customer"], subscription_id=w["subscription"]
        )
    ),
    "v1.contracts.get_subscription_seats_history": (
        lambda c, w: c.v1.contracts.get_subscription_seats_history(
            contract_id=w["contract"], customer_id=w["customer"], subscription_id=w["subscription"]
        )
    ),
    "v1.contracts.list_seat_balances": lambda c, w: c.v1.contracts.list_seat_balances(
        contract_id=w["contract"], customer_id=w["customer"]
    ),
    "v1.contracts.schedule_pro_services_invoice": (
        lambda c, w: c.v1.contracts.schedule_pro_services_invoice(
            contract_id=w["contract"],
            customer_id=w["customer"],
            issued_at=_month_start(w["now"]),
            line_items=[{"professional_service_id": w["professional_service"], "quantity": 1}],
        )
    ),
    "v1.contracts.create_historical_invoices": (
        lambda c, w: c.v1.contracts.create_historical_invoices(
            preview=True,
            invoices=[
                {
                    "contract_id": w["contract"],
                    "customer_id": w["customer"],
                    "credit_type_id": USD,
                    "inclusive_start_date": _month_start(w["now"]),
                    "exclusive_end_date": _next_month(w),
                    "issue_date": _next_month(w),
                    "usage_line_items": [
                        {
                            "product_id": w["usage_product"],
                            "inclusive_start_date": _month_start(w["now"]),
                            "exclusive_end_date": _next_month(w),
                            "quantity": 10,
                            "pricing_group_values": {"region": "eu"},
                        }
                    ],
                }
            ],
        )
    ),
    # --- Commits, credits, balances -------------------------------------------------------------
    "v1.customers.commits.create": lambda c, w: c.v1.customers.commits.create(
        customer_id=w["customer"],
        product_id=w["fixed_product"],
        type="PREPAID",
        priority=1,
        access_schedule={
            "schedule_items": [
                {"amount": 100, "starting_at": w["start"], "ending_before": _month_start(w["now"])}
            ]
        },
    ),
    "v1.customers.commits.list": lambda c, w: _list(
        c.v1.customers.commits.list(customer_id=w["customer"], include_contract_commits=True)
    ),
    "v1.customers.commits.update_end_date": lambda c, w: c.v1.customers.commits.update_end_date(
        customer_id=w["customer"], commit_id=w["commit"], access_ending_before=_later(w, 300)
    ),
    "v1.customers.credits.create": lambda c, w: c.v1.customers.credits.create(
        customer_id=w["customer"],
        product_id=w["fixed_product"],
        priority=1,
        access_schedule={
            "schedule_items": [
                {"amount": 100, "starting_at": w["start"], "ending_before": _month_start(w["now"])}
            ]
        },
    ),
    "v1.customers.credits.list": lambda c, w: _list(
        c.v1.customers.credits.list(customer_id=w["customer"], include_contract_credits=True)
    ),
    "v1.customers.credits.update_end_date": lambda c, w: c.v1.customers.credits.update_end_date(
        customer_id=w["customer"], credit_id=w["credit"], access_ending_before=_later(w, 300)
    ),
    "v1.contracts.list_balances": lambda c, w: _list(
        c.v1.contracts.list_balances(customer_id=w["customer"], include_contract_balances=True)
    ),
    "v1.contracts.get_net_balance": lambda c, w: c.v1.contracts.get_net_balance(
        customer_id=w["customer"]
    ),
    "v1.contracts.add_manual_balance_entry": lambda c, w: c.v1.contracts.add_manual_balance_entry(
        id=w["commit"],
        segment_id=w["segment"],
        customer_id=w["customer"],
        contract_id=w["contract"],
        amount=100,
        reason="Goodwill",
    ),
    # --- Usage ----------------------------------------------------------------------------------
    "v1.usage.ingest": lambda c, w: c.v1.usage.ingest(
        usage=[
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": "acme-sdk",
                "event_type": "api_call",
                "timestamp": w["now"].isoformat(),
                "properties": {"tokens": "5", "region": "eu"},
            }
        ]
    ),
    "v1.usage.list": lambda c, w: _list(
        c.v1.usage.list(
            starting_on=_day(w),
            ending_before=_day(w) + timedelta(days=1),
            window_size="DAY",
            customer_ids=[w["customer"]],
        )
    ),
    "v1.usage.list_with_groups": lambda c, w: _list(
        c.v1.usage.list_with_groups(
            billable_metric_id=w["metric"],
            customer_id=w["customer"],
            window_size="DAY",
            starting_on=_day(w),
            ending_before=_day(w) + timedelta(days=1),
            group_key=["region"],
        )
    ),
    "v1.usage.search": lambda c, w: c.v1.usage.search(transaction_ids=[w["transaction_id"]]),
    # --- Invoices -------------------------------------------------------------------------------
    "v1.customers.invoices.list": lambda c, w: _list(
        c.v1.customers.invoices.list(customer_id=w["customer"])
    ),
    "v1.customers.invoices.retrieve": lambda c, w: c.v1.customers.invoices.retrieve(
        customer_id=w["customer"], invoice_id=_draft_invoice(c, w)
    ),
    "v1.invoices.void": lambda c, w: c.v1.invoices.void(id=_finalized_invoice(c, w)),
    "v1.invoices.regenerate": lambda c, w: c.v1.invoices.regenerate(id=_voided_invoice(c, w)),
    "v1.services.list": lambda c, w: c.v1.services.list(),
    # --- Legacy (Plans era) ---------------------------------------------------------------------
    "v1.plans.list": lambda c, w: _list(c.v1.plans.list()),
    "v1.plans.get_details": lambda c, w: c.v1.plans.get_details(plan_id=str(uuid.uuid4())),
    "v1.plans.list_charges": lambda c, w: _list(c.v1.plans.list_charges(plan_id=str(uuid.uuid4()))),
    "v1.plans.list_customers": lambda c, w: _list(
        c.v1.plans.list_customers(plan_id=str(uuid.uuid4()))
    ),
    "v1.customers.plans.list": lambda c, w: _list(
        c.v1.customers.plans.list(customer_id=w["customer"])
    ),
    "v1.customers.plans.add": lambda c, w: c.v1.customers.plans.add(
        customer_id=w["customer"], plan_id=str(uuid.uuid4()), starting_on=w["start"]
    ),
    "v1.customers.plans.end": lambda c, w: c.v1.customers.plans.end(
        customer_id=w["customer"], customer_plan_id=str(uuid.uuid4())
    ),
    "v1.customers.plans.list_price_adjustments": lambda c, w: _list(
        c.v1.customers.plans.list_price_adjustments(
            customer_id=w["customer"], customer_plan_id=str(uuid.uuid4())
        )
    ),
    "v1.customers.invoices.add_charge": lambda c, w: c.v1.customers.invoices.add_charge(
        customer_id=w["customer"],
        charge_id=str(uuid.uuid4()),
        customer_plan_id=str(uuid.uuid4()),
        description="Setup",
        invoice_start_timestamp=w["start"],
        price=100,
        quantity=1,
    ),
    "v1.credit_grants.create": lambda c, w: c.v1.credit_grants.create(
        customer_id=w["customer"],
        expires_at=w["now"] + timedelta(days=30),
        grant_amount={"amount": 100, "credit_type_id": USD},
        paid_amount={"amount": 0, "credit_type_id": USD},
        name="Grant",
        priority=1,
    ),
    "v1.credit_grants.list": lambda c, w: _list(c.v1.credit_grants.list()),
    "v1.credit_grants.edit": lambda c, w: c.v1.credit_grants.edit(id=str(uuid.uuid4()), name="x"),
    "v1.credit_grants.void": lambda c, w: c.v1.credit_grants.void(id=str(uuid.uuid4())),
    "v1.credit_grants.list_entries": lambda c, w: _list(c.v1.credit_grants.list_entries()),
    # --- Owned by other issues ------------------------------------------------------------------
    "v1.alerts.create": lambda c, w: c.v1.alerts.create(
        alert_type="spend_threshold_reached",
        name="Spend",
        threshold=1000,
        customer_id=w["customer"],
        credit_type_id=USD,
    ),
    "v1.alerts.archive": lambda c, w: c.v1.alerts.archive(
        id=c.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="Spend 2",
            threshold=2000,
            customer_id=w["customer"],
            credit_type_id=USD,
        ).data.id
    ),
    "v1.customers.alerts.list": lambda c, w: _list(
        c.v1.customers.alerts.list(customer_id=w["customer"])
    ),
    "v1.customers.alerts.retrieve": lambda c, w: c.v1.customers.alerts.retrieve(
        customer_id=w["customer"],
        alert_id=c.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="Spend 3",
            threshold=3000,
            customer_id=w["customer"],
            credit_type_id=USD,
        ).data.id,
    ),
    "v1.customers.alerts.reset": lambda c, w: c.v1.customers.alerts.reset(
        customer_id=w["customer"],
        alert_id=c.v1.alerts.create(
            alert_type="spend_threshold_reached",
            name="Spend 4",
            threshold=4000,
            customer_id=w["customer"],
            credit_type_id=USD,
        ).data.id,
    ),
    "v2.notifications.offset.create": lambda c, w: c.v2.notifications.offset.create(
        name="Contract starts",
        policy={"type": "contract.start", "offset": "-P1D"},
    ),
    "v2.notifications.offset.list": lambda c, w: _list(c.v2.notifications.offset.list()),
    "v2.notifications.offset.retrieve": lambda c, w: c.v2.notifications.offset.retrieve(
        id=c.v2.notifications.offset.create(
            name="Ends", policy={"type": "contract.end", "offset": "-P7D"}
        ).data.id
    ),
    "v2.notifications.offset.edit": lambda c, w: c.v2.notifications.offset.edit(
        id=c.v2.notifications.offset.create(
            name="Ends 2", policy={"type": "contract.end", "offset": "-P3D"}
        ).data.id,
        policy={"type": "contract.end", "offset": "-P2D"},
    ),
    "v2.notifications.offset.archive": lambda c, w: c.v2.notifications.offset.archive(
        id=c.v2.notifications.offset.create(
            name="Ends 3", policy={"type": "contract.end", "offset": "-P1D"}
        ).data.id
    ),
    "v2.notifications.system.list": lambda c, w: c.v2.notifications.system.list(),
    "v1.customers.billing_config.create": lambda c, w: c.v1.customers.billing_config.create(
        customer_id=w["customer"],
        billing_provider_type="stripe",
        billing_provider_customer_id="cus_123",
        stripe_collection_method="charge_automatically",
    ),
    "v1.customers.billing_config.retrieve": lambda c, w: (
        # delete runs first (the table's order): set the configuration again, then read it
        c.v1.customers.billing_config.create(
            customer_id=w["customer"],
            billing_provider_type="stripe",
            billing_provider_customer_id="cus_123",
        ),
        c.v1.customers.billing_config.retrieve(
            customer_id=w["customer"], billing_provider_type="stripe"
        ),
    ),
    "v1.customers.billing_config.delete": lambda c, w: c.v1.customers.billing_config.delete(
        customer_id=w["customer"], billing_provider_type="stripe"
    ),
    "v1.customers.retrieve_billing_configurations": (
        lambda c, w: c.v1.customers.retrieve_billing_configurations(customer_id=w["customer"])
    ),
    "v1.customers.set_billing_configurations": (
        lambda c, w: c.v1.customers.set_billing_configurations(
            data=[
                {
                    "customer_id": w["customer"],
                    "billing_provider": "stripe",
                    "delivery_method": "direct_to_billing_provider",
                    "configuration": {
                        "stripe_customer_id": "cus_123",
                        "stripe_collection_method": "charge_automatically",
                    },
                }
            ]
        )
    ),
    "v1.customers.archive_billing_configurations": (
        lambda c, w: c.v1.customers.archive_billing_configurations(
            customer_id=w["customer"],
            customer_billing_provider_configuration_ids=[_billing_configuration(c, w)],
        )
    ),
    "v1.settings.billing_providers.list": lambda c, w: c.v1.settings.billing_providers.list(),
    "v1.settings.billing_providers.create": lambda c, w: c.v1.settings.billing_providers.create(
        billing_provider="aws_marketplace",
        configuration={"aws_external_id": "x"},
        delivery_method="direct_to_billing_provider",
    ),
    "v1.settings.upsert_avalara_credentials": (
        lambda c, w: c.v1.settings.upsert_avalara_credentials(
            avalara_environment="SANDBOX",
            avalara_username="user",
            avalara_password="pass",
            delivery_method_ids=[str(uuid.uuid4())],
        )
    ),
    "v1.audit_logs.list": lambda c, w: _list(c.v1.audit_logs.list()),
    "v1.customers.invoices.retrieve_pdf": lambda c, w: c.v1.customers.invoices.retrieve_pdf(
        customer_id=w["customer"], invoice_id=_finalized_invoice(c, w)
    ),
    "v1.customers.invoices.list_breakdowns": lambda c, w: _list(
        c.v1.customers.invoices.list_breakdowns(
            customer_id=w["customer"],
            starting_on=w["start"],
            ending_before=_day(w),
            window_size="DAY",
        )
    ),
    "v1.customers.list_costs": lambda c, w: _list(
        c.v1.customers.list_costs(
            customer_id=w["customer"], starting_on=w["start"], ending_before=_day(w)
        )
    ),
    "v1.dashboards.get_embeddable_url": lambda c, w: c.v1.dashboards.get_embeddable_url(
        customer_id=w["customer"], dashboard="invoices"
    ),
}

# Calls that change or remove what later calls read run last, in this order.
LAST = (
    "v1.invoices.void",
    "v1.invoices.regenerate",
    "v1.custom_fields.delete_values",
    "v1.custom_fields.remove_key",
)


def _answer(exc: Exception) -> str:
    if isinstance(exc, metronome.APIResponseValidationError):
        return f"invalid response: {str(exc)[:160]}"
    if isinstance(exc, metronome.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message")
        if message is None:
            message = "no such path" if exc.status_code == 404 else str(exc.message)
        message = " ".join(str(message).split())[:160]
        kind = "5xx" if exc.status_code >= 500 else "4xx"
        return f"{kind} {exc.status_code}: {message}"
    return f"error: {type(exc).__name__}: {str(exc)[:160]}"


def run(client: metronome.Metronome, world: dict, methods: list[str]) -> list[Outcome]:
    """Call every method once (the state-changing ones of `LAST` at the end)."""
    ordered = [m for m in methods if m not in LAST] + [m for m in LAST if m in methods]
    outcomes = []
    for method in ordered:
        call = CALLS.get(method)
        if call is None:
            outcomes.append(Outcome(method, group_of(method), "no call in the table"))
            continue
        try:
            call(client, world)
        except Exception as exc:  # every failure is an answer to print
            answer = _answer(exc)
        else:
            answer = "ok"
        outcomes.append(Outcome(method, group_of(method), answer))
    return sorted(outcomes, key=lambda o: o.method)


def report(outcomes: list[Outcome]) -> str:
    """The table and the count, as printed by the coverage test."""
    width = max(len(o.method) for o in outcomes)
    lines = [f"{o.method:<{width}}  {o.group:<30}  {o.answer}" for o in outcomes]
    ours = [o for o in outcomes if o.group == "ours"]
    elsewhere = [o for o in outcomes if o.group.startswith("owned")]
    legacy = [o for o in outcomes if o.group == "legacy"]
    working = sum(o.ok for o in outcomes)
    lines += [
        "",
        f"SDK methods: {len(outcomes)}",
        f"working in strict mode: {working} of {len(outcomes)}",
        f"  ours: {sum(o.ok for o in ours)} of {len(ours)}",
        f"  owned elsewhere: {sum(o.ok for o in elsewhere)} of {len(elsewhere)} (counted once they land)",
        f"  legacy answered with a 4xx: {sum(o.answer.startswith('4xx') for o in legacy)} of {len(legacy)}",
        f"server errors or invalid responses: {sum(o.server_error for o in outcomes)}",
    ]
    return "\n".join(lines)
