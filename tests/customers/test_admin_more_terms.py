"""Issue 14's terms in the admin: a discount typed in with its dates reaches the draft at once;
changing needs the change permission (viewing, the view one); removing a custom field key
removes its values."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django import forms
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from core.models import CustomFieldKey
from customers.forms import ProfessionalServiceForm, RecurringBalanceForm
from customers.models import Discount, ProfessionalService, RecurringBalance
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure
from tests.catalog.factories import PricingUnitFactory, ProductFactory
from tests.customers.factories import (
    ContractFactory,
    CustomerFactory,
    ProfessionalServiceFactory,
    RecurringBalanceFactory,
)

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
        "schedule_items-0-amount": "2.50",  # dollars: stored as 250 cents
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


def test_a_professional_service_is_typed_in_dollars_and_stored_in_cents():
    contract = ContractFactory()
    product = ProductFactory(type="PRO_SERVICE", billable_metric=None)
    form = forms.modelform_factory(
        ProfessionalService,
        form=ProfessionalServiceForm,
        fields=["contract", "product", "unit_price", "quantity", "max_amount"],
    )(
        data={
            "contract": str(contract.pk),
            "product": str(product.pk),
            "unit_price": "150.00",
            "quantity": "2",
            "max_amount": "300",
        }
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["unit_price"] == Decimal("15000")
    assert form.cleaned_data["max_amount"] == Decimal("30000")
    assert form.cleaned_data["quantity"] == Decimal("2")
    stored = ProfessionalServiceFactory(contract=contract)
    shown = forms.modelform_factory(
        ProfessionalService, form=ProfessionalServiceForm, fields=["unit_price", "max_amount"]
    )(instance=stored)
    assert shown.initial["unit_price"] == Decimal("150")
    assert shown.initial["max_amount"] == Decimal("300")


def test_a_recurring_credit_grants_in_its_unit_and_invoices_in_the_contracts():
    contract = ContractFactory()
    form = forms.modelform_factory(
        RecurringBalance,
        form=RecurringBalanceForm,
        fields=[
            "contract",
            "kind",
            "product",
            "credit_type",
            "access_unit_price",
            "access_quantity",
            "invoice_unit_price",
            "invoice_quantity",
            "duration_periods",
            "starting_at",
        ],
    )(
        data={
            "contract": str(contract.pk),
            "kind": "COMMIT",
            "product": str(ProductFactory(fixed=True).pk),
            "access_quantity": "1",
            "invoice_quantity": "1",
            "duration_periods": "1",
            "starting_at": "2026-01-01 00:00:00",
            "credit_type": str(contract.rate_card.fiat_credit_type_id),
            "access_unit_price": "10.00",
            "invoice_unit_price": "9.50",
        }
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["access_unit_price"] == Decimal("1000")
    assert form.cleaned_data["invoice_unit_price"] == Decimal("950")


def test_a_viewer_reads_a_recurring_credit_and_a_professional_service_in_dollars(client):
    credit = RecurringBalanceFactory(access_unit_price=Decimal("1000"))
    service = ProfessionalServiceFactory()
    # A commit granting a custom unit: its grant is read in that unit, its invoice in dollars.
    tokens = PricingUnitFactory(name="Tokens")
    commit = RecurringBalanceFactory(
        kind="COMMIT",
        credit_type=tokens,
        access_unit_price=Decimal("1234.5"),
        invoice_unit_price=Decimal("950"),
        invoice_quantity=Decimal("1"),
    )
    client.force_login(_staff("view_recurringbalance", "view_professionalservice"))

    page = client.get(reverse("admin:customers_recurringbalance_change", args=[credit.pk]))
    assert page.status_code == 200
    assert "$10.00" in page.content.decode()
    page = client.get(reverse("admin:customers_professionalservice_change", args=[service.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "$150.00" in body and "$300.00" in body
    assert "15000.000000000000" not in body
    page = client.get(reverse("admin:customers_recurringbalance_change", args=[commit.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert '<div class="readonly">1,234.5 Tokens</div>' in body
    assert '<div class="readonly">$9.50</div>' in body

    # Someone who may change it types each amount in its own unit (the admin's form).
    client.force_login(User.objects.create_superuser("admin", password="pw"))
    form = (
        client.get(reverse("admin:customers_recurringbalance_change", args=[commit.pk]))
        .context["adminform"]
        .form
    )
    assert (form.initial["access_unit_price"], form.initial["invoice_unit_price"]) == (
        Decimal("1234.5"),
        Decimal("9.5"),
    )
    assert form.fields["access_unit_price"].widget.symbol == "Tokens"
    assert form.fields["invoice_unit_price"].widget.symbol == "$"


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
