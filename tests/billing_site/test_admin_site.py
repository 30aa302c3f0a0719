"""The admin index: sections Offering and Customers first, everything else still reachable below."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_other_models_are_listed_below_the_sections(admin_client):
    response = admin_client.get(reverse("admin:index"))

    sections = [s["name"] for s in response.context["app_list"]]
    assert sections[:2] == ["Offering", "Customers"]
    assert "Authentication and Authorization" in sections[2:]


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


def test_the_admin_needs_a_staff_login(client):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
