from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (registers its outbox handlers)
        from .sql_metrics.functions import register_sqlite

        # SQL metrics' `/` and AVG on SQLite (PostgreSQL and ClickHouse have them in SQL).
        connection_created.connect(register_sqlite, dispatch_uid="metering.sql_metric_functions")
