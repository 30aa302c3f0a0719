"""The company profile in the admin: one row, a logo stored once by content, permissions."""

import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from dashboards.models import CompanyLogo, CompanyProfile
from tests.dashboards.world import company_profile

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:dashboards_companyprofile_changelist"


def png(color="red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 2), color).save(out, format="PNG")
    return out.getvalue()


def form(**more) -> dict:
    return {
        "name": "Initech Billing LLC",
        "address": "500 Market Street",
        "tax_id": "",
        "email": "",
        "payment_instructions": "",
        "invoice_number_prefix": "",
        **more,
    }


def test_the_list_offers_to_add_the_profile_while_there_is_none(admin_client):
    body = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert reverse("admin:dashboards_companyprofile_add") in body


def test_there_is_one_profile_it_cannot_be_added_twice_or_deleted(admin_client):
    company_profile()

    body = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert "Initech Billing LLC" in body
    assert reverse("admin:dashboards_companyprofile_add") not in body
    assert admin_client.get(reverse("admin:dashboards_companyprofile_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:dashboards_companyprofile_delete", args=[1])).status_code
        == 403
    )


def test_saving_with_a_logo_stores_it_once_and_shows_it(admin_client):
    upload = SimpleUploadedFile("logo.png", png(), content_type="image/png")

    response = admin_client.post(
        reverse("admin:dashboards_companyprofile_add"), form(logo_upload=upload)
    )

    assert response.status_code == 302
    profile = CompanyProfile.objects.get()
    assert profile.logo.content_type == "image/png"
    assert bytes(profile.logo.data) == png()
    page = admin_client.get(reverse("admin:dashboards_companyprofile_change", args=[1]))
    logo_url = reverse("admin:dashboards_companyprofile_logo", args=[1])
    assert logo_url in page.content.decode()
    served = admin_client.get(logo_url)
    assert (served["Content-Type"], served.content) == ("image/png", png())


def test_a_logo_on_the_document_is_inline(admin_client, world):
    upload = SimpleUploadedFile("logo.png", png(), content_type="image/png")
    admin_client.post(
        reverse("admin:dashboards_companyprofile_change", args=[1]), form(logo_upload=upload)
    )

    draft = world.december()
    body = admin_client.get(reverse("admin:invoicing_invoice_print", args=[draft.pk])).content
    assert b'<img class="logo" src="data:image/png;base64,' in body


def test_replacing_the_logo_keeps_the_old_one_for_frozen_documents(admin_client):
    company_profile()
    for color in ("red", "blue"):
        admin_client.post(
            reverse("admin:dashboards_companyprofile_change", args=[1]),
            form(logo_upload=SimpleUploadedFile("logo.png", png(color))),
        )

    assert CompanyLogo.objects.count() == 2
    assert bytes(CompanyProfile.objects.get().logo.data) == png("blue")


def test_remove_logo(admin_client):
    company_profile()
    admin_client.post(
        reverse("admin:dashboards_companyprofile_change", args=[1]),
        form(logo_upload=SimpleUploadedFile("logo.png", png())),
    )

    admin_client.post(
        reverse("admin:dashboards_companyprofile_change", args=[1]), form(remove_logo="on")
    )

    assert CompanyProfile.objects.get().logo is None


def test_a_file_that_is_not_an_image_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:dashboards_companyprofile_add"),
        form(logo_upload=SimpleUploadedFile("logo.png", b"not an image")),
    )

    assert response.status_code == 200
    assert "The logo is not a readable image." in response.content.decode()
    assert not CompanyProfile.objects.exists()


def test_a_blank_name_is_refused(admin_client):
    response = admin_client.post(reverse("admin:dashboards_companyprofile_add"), form(name=" "))

    assert response.status_code == 200
    assert not CompanyProfile.objects.exists()


def test_the_profile_needs_its_permissions(client):
    company_profile()
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    change = reverse("admin:dashboards_companyprofile_change", args=[1])
    assert client.get(change).status_code == 403

    user.user_permissions.set(Permission.objects.filter(codename="view_companyprofile"))
    assert client.get(change).status_code == 200
    response = client.post(change, form(name="Hijacked"))
    assert response.status_code == 403
    assert CompanyProfile.objects.get().name == "Initech Billing LLC"
