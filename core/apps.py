from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses: API plumbing, admin helpers, the hot cursor, API tokens and the outbox."""

    name = "core"
    verbose_name = "Developers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .authentication import forget_saved_token
        from .models import ApiToken

        post_save.connect(forget_saved_token, sender=ApiToken, dispatch_uid="api-token-saved")
        post_delete.connect(forget_saved_token, sender=ApiToken, dispatch_uid="api-token-deleted")
