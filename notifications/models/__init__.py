"""Webhook endpoints and what was sent to them, threshold alerts and their state per customer,
and the lifecycle notifications' configuration. One module per family: `webhooks`, `alerts`,
`lifecycle`."""

from .alerts import (  # noqa: F401
    Alert,
    AlertEvaluator,
    CustomerAlert,
    PendingEvaluation,
)
from .lifecycle import (  # noqa: F401
    FiredMoment,
    LifecycleCursor,
    OffsetNotification,
    SystemNotification,
)
from .webhooks import (  # noqa: F401
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
