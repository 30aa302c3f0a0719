"""The audit trail: every change from the admin, the API and commands records who, when, and each
field's old and new value; an object's History shows them; the global list filters by actor."""

import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from audit.models import AuditEntry
from catalog.models import Rate
from customers.models import Customer
from invoicing.models import Invoice
from tests.catalog.factories import RateFactory
from tests.customers.factories import CustomerFactory
from tests.invoicing.test_admin import march, world  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def entries_for(obj) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
        ).order_by("timestamp", "id")
    )


def test_a_customer_renamed_in_the_admin_records_the_user_and_both_names(admin_client, admin_user):
    customer = CustomerFactory(name="Acme")

    answer = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        {
            "name": "Acme AI",
            "external_id": "",
            "salesforce_account_id": "",
            "custom_fields": "{}",
            "ingest_aliases-TOTAL_FORMS": "0",
            "ingest_aliases-INITIAL_FORMS": "0",
            "billing_provider_configurations-TOTAL_FORMS": "0",
            "billing_provider_configurations-INITIAL_FORMS": "0",
            "revenue_system_configurations-TOTAL_FORMS": "0",
            "revenue_system_configurations-INITIAL_FORMS": "0",
            "contracts-TOTAL_FORMS": "0",
            "contracts-INITIAL_FORMS": "0",
        },
    )

    assert answer.status_code == 302
    change = entries_for(customer)[-1]
    assert change.action == AuditEntry.Action.UPDATE
    assert (change.actor, change.actor_name, change.source) == (admin_user, "admin", "admin")
    assert change.changes_dict["name"] == ["Acme", "Acme AI"]


def test_a_customer_created_over_the_api_records_the_token(api_client):
    answer = api_client.post("/v1/customers", {"name": "Beta"}, format="json")

    customer = Customer.objects.get(pk=answer.json()["data"]["id"])
    created = entries_for(customer)[0]
    assert created.action == AuditEntry.Action.CREATE
    assert created.source == "api"
    assert created.actor is None
    assert created.actor_token.name == "tests"
    assert created.actor_name == "API token tests"
    assert created.changes_dict["name"] == ["None", "Beta"]


def test_a_price_change_records_old_and_new_price():
    rate = RateFactory(price=Decimal("30"))

    rate.price = Decimal("31")
    rate.save()

    change = entries_for(rate)[-1]
    assert change.changes_dict == {"price": ["30", "31"]}


def test_a_save_that_only_changes_trailing_zeros_records_nothing():
    rate = RateFactory(price=Decimal("30"))
    before = len(entries_for(rate))

    rate = Rate.objects.get(pk=rate.pk)  # price read back as 30.000000000000
    rate.price = Decimal("30.0")
    rate.save()

    assert len(entries_for(rate)) == before


def test_a_command_is_named_as_the_actor(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["manage.py", "seed_demo"])

    customer = CustomerFactory(name="From a command")

    created = entries_for(customer)[0]
    assert (created.source, created.actor_name) == ("command", "manage.py seed_demo")


def test_a_deleted_object_keeps_its_entries():
    customer = CustomerFactory(name="Gone")
    pk = customer.pk
    customer.delete()

    kinds = list(
        AuditEntry.objects.filter(object_pk=str(pk)).order_by("id").values_list("action", flat=True)
    )
    assert kinds == [AuditEntry.Action.CREATE, AuditEntry.Action.DELETE]


def test_finalizing_and_voiding_in_the_admin_record_the_invoice_state(admin_client, world):  # noqa: F811
    invoice = march(world)
    url = reverse("admin:invoicing_invoice_changelist")

    admin_client.post(url, {"action": "finalize_selected", "_selected_action": [invoice.pk]})
    admin_client.post(url, {"action": "void_selected", "_selected_action": [invoice.pk]})

    invoice = Invoice.objects.get(pk=invoice.pk)
    finalized, voided = [e for e in entries_for(invoice) if e.action == AuditEntry.Action.UPDATE]
    assert finalized.changes_dict["status"] == ["DRAFT", "FINALIZED"]
    assert finalized.changes_dict["number"] == ["None", str(invoice.number)]
    assert finalized.actor_name == "admin"
    assert voided.changes_dict["status"] == ["FINALIZED", "VOID"]
    assert voided.actor_name == "admin"


def test_an_objects_history_page_shows_who_and_the_values(admin_client):
    rate = RateFactory(price=Decimal("30"))
    rate.price = Decimal("31")
    rate.save()

    page = admin_client.get(reverse("admin:catalog_rate_history", args=[rate.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Audit trail" in html
    assert '<td class="audit-old">30</td><td class="audit-new">31</td>' in html


def test_the_audit_log_lists_every_change_and_filters_by_actor(admin_client, api_client):
    CustomerFactory(name="By the system")
    api_client.post("/v1/customers", {"name": "By a token"}, format="json")
    url = reverse("admin:audit_auditentry_changelist")

    everything = admin_client.get(url)
    by_token = admin_client.get(url, {"actor_name": "API token tests"})

    assert everything.status_code == 200
    names = {entry.object_repr for entry in by_token.context["cl"].result_list}
    assert names == {"By a token"}
    assert {e.object_repr for e in everything.context["cl"].result_list} >= {
        "By the system",
        "By a token",
    }


def test_an_entry_page_shows_old_and_new_values(admin_client):
    customer = CustomerFactory(name="Old name")
    customer.name = "New name"
    customer.save()
    entry = entries_for(customer)[-1]

    page = admin_client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))

    html = page.content.decode()
    assert "Old name" in html and "New name" in html
    assert "cents for USD (cents): 150 is $1.50" in html  # values are as stored, said so


def test_nobody_edits_the_audit_log(admin_client):
    customer = CustomerFactory()
    entry = entries_for(customer)[0]

    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:audit_auditentry_delete", args=[entry.pk])).status_code
        == 403
    )


def test_a_viewer_without_the_audit_permission_cannot_read_it(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 403


def test_the_entry_timestamp_is_when_it_happened():
    before = datetime.now(UTC)
    customer = CustomerFactory()
    assert entries_for(customer)[0].timestamp >= before
