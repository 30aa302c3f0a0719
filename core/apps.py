from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses: API plumbing, admin helpers, the hot cursor, API tokens and the outbox."""

    name = "core"
    verbose_name = "Developers"
    default_auto_field = "django.db.models.BigAutoField"
