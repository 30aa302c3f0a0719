from django.apps import AppConfig


class BillingSiteConfig(AppConfig):
    """The project: settings, urls, the admin site, commands that start things. No app imports it."""

    name = "billing_site"
    verbose_name = "Project"
    default_auto_field = "django.db.models.BigAutoField"
