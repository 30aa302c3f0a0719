from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import custom_fields

        from .api import package_terms
        from .models import (
            Commit,
            Contract,
            Credit,
            Customer,
            Discount,
            ProfessionalService,
            ScheduledCharge,
            Subscription,
        )

        custom_fields.register("customer", Customer)
        custom_fields.register("contract", Contract)
        custom_fields.register("commit", Commit)
        custom_fields.register("contract_credit", Credit)
        custom_fields.register("scheduled_charge", ScheduledCharge)
        custom_fields.register("subscription", Subscription)
        custom_fields.register("discount", Discount)
        custom_fields.register("professional_service", ProfessionalService)
        package_terms.register()
