from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Offering"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import custom_fields

        from .models import BillableMetric, Product, RateCard

        custom_fields.register("billable_metric", BillableMetric)
        custom_fields.register("contract_product", Product)
        custom_fields.register("product", Product)
        custom_fields.register("rate_card", RateCard)
