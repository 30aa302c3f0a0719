"""The three role groups with their permissions (roles.definitions)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def make_roles(apps, schema_editor):
    from roles.services import roles_sync

    # Permissions are otherwise made after every migration has run; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


def drop_roles(apps, schema_editor):
    from roles.definitions import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0005_apitoken_scope_expiry"),
        ("catalog", "0003_product_updates_package_contract_name"),
        ("customers", "0006_billing_provider_configurations"),
        ("metering", "0008_usageevent_test_event_permission"),
        ("invoicing", "0008_invoice_permissions"),
        ("audit", "0001_audit_entry"),
        ("payments", "0001_initial"),
        ("dashboards", "0001_company_profile_documents"),
    ]

    operations = [migrations.RunPython(make_roles, drop_roles)]
