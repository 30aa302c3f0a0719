"""The admin index: Offering, Customers, Developers and the Audit trail for staff; the task tables
and user accounts under System for superusers only; breadcrumbs name the section."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from billing_site.admin_site import section_of
from roles.definitions import ENGINEER, FINANCE_VIEWER

pytestmark = pytest.mark.django_db


def staff(role: str) -> User:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_a_superuser_sees_every_section_system_last(admin_client):
    response = admin_client.get(reverse("admin:index"))

    sections = {
        s["name"]: [m["object_name"] for m in s["models"]] for s in response.context["app_list"]
    }
    assert list(sections) == [
        "Offering",
        "Customers",
        "Getting paid",
        "Developers",
        "Audit trail",
        "System",
    ]
    assert sections["Developers"] == [
        "ApiToken",
        "WebhookEndpoint",
        "WebhookDelivery",
        "Alert",
        "UsageEvent",
        "DomainEvent",
    ]
    assert {"Schedule", "Success", "Failure", "OrmQ", "User", "Group"} <= set(sections["System"])


def test_a_finance_viewer_never_sees_the_task_tables(client):
    client.force_login(staff(FINANCE_VIEWER))

    response = client.get(reverse("admin:index"))

    names = [s["name"] for s in response.context["app_list"]]
    assert names == ["Offering", "Customers", "Getting paid", "Developers", "Audit trail"]
    assert "Schedule" not in response.content.decode()
    assert client.get(reverse("admin:section", args=["system"])).status_code == 403


def test_an_engineer_sees_tokens_in_developers(client):
    client.force_login(staff(ENGINEER))

    response = client.get(reverse("admin:section", args=["developers"]))

    assert response.status_code == 200
    models = [m["object_name"] for m in response.context["app_list"][0]["models"]]
    assert models[0] == "ApiToken"


def test_section_links_open_the_changelists(admin_client):
    response = admin_client.get(reverse("admin:index"))

    offering = response.context["app_list"][0]
    urls = [m["admin_url"] for m in offering["models"]]
    assert urls == [
        reverse("admin:catalog_billablemetric_changelist"),
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_ratecard_changelist"),
        reverse("admin:catalog_package_changelist"),
        reverse("admin:catalog_pricingunit_changelist"),
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 200


def test_an_app_index_opens_its_section(admin_client):
    response = admin_client.get(reverse("admin:app_list", args=["invoicing"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:section", args=["customers"])


def test_breadcrumbs_name_the_section(admin_client):
    invoices = admin_client.get(reverse("admin:invoicing_invoice_changelist")).content.decode()
    contracts = admin_client.get(reverse("admin:customers_contract_changelist")).content.decode()

    section = f'<a href="{reverse("admin:section", args=["customers"])}">Customers</a>'
    assert section in invoices and section in contracts
    assert ">Invoicing<" not in invoices


def test_a_model_of_an_unknown_app_goes_to_system():
    assert section_of("django_q", "schedule").name == "System"
    assert section_of("notifications", "webhookendpoint").name == "Developers"


def test_the_admin_needs_a_staff_login(client):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
