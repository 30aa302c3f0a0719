from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    """What the customer of our customer sees: the invoice document (page and PDF) and the
    embeddable dashboards (invoices, usage, commits and credits)."""

    name = "dashboards"
    verbose_name = "Customer-facing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (registers its outbox handlers)
