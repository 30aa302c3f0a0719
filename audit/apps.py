from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit trail: who changed what, when, and each field's old and new value."""

    name = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import handlers, registry  # noqa: F401  (registers the models and the handlers)
