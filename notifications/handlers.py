"""What notifications does when something happened below it (`core.outbox`).

- Every event becomes a delivery to each endpoint that wants it (`@handles(ANY)`: types recorded
  by apps written later are heard too).
- New usage (`usage.marked`) wakes the alert worker.
- Balance, contract and invoice changes, and changed custom field values (alerts may filter on
  them), queue the customer for alert evaluation.
"""

from __future__ import annotations

from core.models import DomainEvent
from core.outbox import ANY, handles

from .models import Alert
from .models.webhooks import WebhookEndpoint, subscribed
from .payloads import INTERNAL_TYPES
from .services import customers_queue, deliveries_for_event, evaluator_wake


def wanted(types: set[str]) -> set[str]:
    """The types some enabled endpoint subscribes to (one query per recorded batch)."""
    subscriptions = list(
        WebhookEndpoint.objects.filter(enabled=True).values_list("event_types", flat=True)
    )
    return {
        t
        for t in types - INTERNAL_TYPES
        if any(subscribed(event_types, t) for event_types in subscriptions)
    }


def while_alerts(types: set[str]) -> set[str]:
    return types if Alert.objects.filter(status=Alert.Status.ENABLED).exists() else set()


@handles(ANY, wanted=wanted, many=True)
def deliver(events: list[DomainEvent]) -> None:
    for event in events:
        deliveries_for_event(event=event)


@handles("usage.marked", wanted=while_alerts)
def usage_marked(event: DomainEvent) -> None:
    evaluator_wake()


@handles(
    "contract.create",
    "contract.edit",
    "contract.archive",
    "contract.start",
    "contract.end",
    "commit.create",
    "commit.edit",
    "commit.segment.start",
    "commit.segment.end",
    "credit.create",
    "credit.edit",
    "credit.segment.start",
    "credit.segment.end",
    "invoice.finalized",
    "invoice.voided",
    "custom_fields.changed",
    wanted=while_alerts,
    many=True,
)
def balances_changed(events: list[DomainEvent]) -> None:
    """The events' customers queued (a batch of finalized invoices: one wake of the evaluator)."""
    by_moment: dict = {}
    for event in events:
        if event.customer_id is not None:
            by_moment.setdefault(event.occurred_at, set()).add(event.customer_id)
    for index, (now, customer_ids) in enumerate(by_moment.items()):
        customers_queue(customer_ids=customer_ids, now=now, wake=index == 0)
