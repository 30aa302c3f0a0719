from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (registers its outbox handlers)
        from .api.extensions import hierarchy_payers, register_invoice_fields

        register_invoice_fields(hierarchy_payers)
