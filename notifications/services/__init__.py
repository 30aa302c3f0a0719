"""Notifications' writes, one module per concern: `webhooks` (endpoints, deliveries, sending),
`alerts` (threshold alerts and their queue), `measures` (what each alert type measures), `evaluation` (the alert worker), `lifecycle` (the
time-based lifecycle schedule and offset notifications), `configs` (the v2 notification
configurations)."""

from .alerts import (  # noqa: F401
    alert_archive,
    alert_create,
    alerts_queue_all,
    customer_alert_reset,
    customers_queue,
    evaluator_wake,
)
from .configs import (  # noqa: F401
    offset_notification_archive,
    offset_notification_create,
    offset_notification_edit,
    system_notification_set,
)
from .evaluation import (  # noqa: F401
    alerts_evaluate_pending,
    customer_alerts_evaluate,
)
from .lifecycle import (  # noqa: F401
    lifecycle_moments_fire,
    parse_offset,
)
from .measures import specifier_subject  # noqa: F401
from .webhooks import (  # noqa: F401
    deliveries_for_event,
    deliveries_prune,
    deliveries_send,
    deliveries_send_due,
    delivery_resend,
    delivery_send,
    webhook_endpoint_create,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_send_test,
)
