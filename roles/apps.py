from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RolesConfig(AppConfig):
    """The three roles (Finance admin, Finance viewer, Engineer) as groups of permissions."""

    name = "roles"
    verbose_name = "Roles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_sync_after_migrate, sender=self)


def _sync_after_migrate(sender, using="default", **kwargs) -> None:
    """Permissions of models added since the groups were made join their roles."""
    from .services import roles_sync

    roles_sync()
