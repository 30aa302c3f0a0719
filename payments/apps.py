from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from invoicing.api.extensions import register_invoice_fields

        from . import handlers  # noqa: F401  (registers its outbox handlers)
        from .selectors import external_invoices

        register_invoice_fields(external_invoices)
