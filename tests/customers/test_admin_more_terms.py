"""Issue 14's terms in the admin: a discount typed in with its dates reaches the draft at once;
changing needs the change permission (viewing, the view one); removing a custom field key
removes its values."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from core.models import CustomFieldKey
from customers.models import Discount
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure
from tests.catalog.factories import ProductFactory
from tests.customers.factories import ContractFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _staff(*codenames) -> User:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def _discount_form(contract, product) -> dict:
    return {
        "contract": str(contract.pk),
        "product": str(product.pk),
        "name": "Goodwill",
        "custom_fields": "{}",
        "schedule_items-TOTAL_FORMS": "1",
        "schedule_items-INITIAL_FORMS": "0",
        "schedule_items-0-timestamp_0": "2026-01-10",
        "schedule_items-0-timestamp_1": "00:00:00",
        "schedule_items-0-amount": "250",
    }


def test_a_discount_typed_in_reaches_the_draft(admin_client):
    contract = ContractFactory(starting_at=datetime(2026, 1, 1, tzinfo=UTC))
    contract_drafts_ensure(contract=contract, now=datetime(2026, 1, 2, tzinfo=UTC))
    product = ProductFactory(fixed=True)
    response = admin_client.post(
        reverse("admin:customers_discount_add"), _discount_form(contract, product)
    )
    assert response.status_code == 302, response.content[:2000]
    discount = Discount.objects.get(contract=contract)
    assert [i.amount for i in discount.schedule_items.all()] == [Decimal("250")]
    draft = Invoice.objects.get(contract=contract, start_timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    lines = invoice_view(invoice=draft).lines
    # Nothing to take the discount off yet: it shows, at zero.
    assert [(line.type, line.total) for line in lines] == [("discount", Decimal("0"))]


def test_term_pages_need_their_permissions(client):
    contract = ContractFactory()
    client.force_login(_staff("view_discount"))
    assert client.get(reverse("admin:customers_discount_changelist")).status_code == 200
    add = client.post(
        reverse("admin:customers_discount_add"),
        _discount_form(contract, ProductFactory(fixed=True)),
    )
    assert add.status_code == 403
    assert not Discount.objects.exists()
    assert client.get(reverse("admin:customers_recurringbalance_changelist")).status_code == 403


def test_removing_a_custom_field_key_in_the_admin_removes_its_values(admin_client):
    customer = CustomerFactory(custom_fields={"segment": "smb", "other": "1"})
    key = CustomFieldKey.objects.create(entity="customer", key="segment")
    response = admin_client.post(
        reverse("admin:core_customfieldkey_delete", args=[key.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.custom_fields == {"other": "1"}
    assert not CustomFieldKey.objects.exists()
