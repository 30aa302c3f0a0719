from django.contrib.admin.apps import AdminConfig


class BillingAdminConfig(AdminConfig):
    """Django's admin, with our site that groups models the way finance staff navigate."""

    default_site = "billing_site.admin_site.BillingAdminSite"
