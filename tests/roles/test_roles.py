"""Roles: the three groups made by the data migration, and a Finance viewer who walks every admin
action and every custom admin URL and changes nothing (403, or the action is not offered)."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.urls.resolvers import URLPattern

from audit.models import AuditEntry
from invoicing.models import Invoice
from metering.models import UsageEvent
from roles.definitions import ENGINEER, FINANCE_ADMIN, FINANCE_VIEWER
from tests.catalog.factories import PackageFactory, ProductFactory, RateFactory
from tests.customers.factories import ContractFactory
from tests.test_admin_smoke import REGISTERED, _instance

pytestmark = pytest.mark.django_db

STANDARD = re.compile(r"_(changelist|add|change|delete|history|autocomplete)$")


def member(role: str, username: str = "someone") -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def codenames(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_migration_made_three_roles():
    viewer = codenames(FINANCE_VIEWER)
    finance = codenames(FINANCE_ADMIN)
    engineer = codenames(ENGINEER)

    assert {name.split(".")[1].split("_")[0] for name in viewer} == {"view"}
    assert {"catalog.view_rate", "invoicing.view_invoice", "audit.view_auditentry"} <= viewer
    assert {
        "catalog.change_rate",
        "customers.add_contract",
        "invoicing.finalize_invoice",
        "invoicing.void_invoice",
        "invoicing.regenerate_invoice",
        "metering.send_test_event",
    } <= finance
    assert "core.add_apitoken" not in finance
    assert {
        "core.add_apitoken",
        "core.change_apitoken",
        "catalog.add_billablemetric",
        "metering.send_test_event",
        "customers.view_contract",
    } <= engineer
    assert "catalog.change_rate" not in engineer
    assert "invoicing.void_invoice" not in engineer


def _changes() -> tuple[int, int, int]:
    from django.contrib.admin.models import LogEntry

    return AuditEntry.objects.count(), LogEntry.objects.count(), UsageEvent.objects.count()


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_a_viewer_is_offered_no_action_and_posting_one_changes_nothing(client, model):
    obj = _instance(model)
    model_admin = admin.site._registry[model]
    client.force_login(member(FINANCE_VIEWER))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    page = client.get(url)
    if page.status_code == 403:  # the viewer does not see this model at all (tokens, users)
        return
    assert page.status_code == 200
    assert page.context["action_form"] is None, "an action is offered to a viewer"
    before = _changes()
    names = {
        name if isinstance(name, str) else name.__name__ for name in (model_admin.actions or [])
    } | {"delete_selected"}
    for name in sorted(names):
        client.post(url, {"action": name, "_selected_action": [str(obj.pk)]})
    assert _changes() == before
    assert client.post(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]),
        {},
    ).status_code in (403, 200)
    assert _changes() == before


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_a_viewer_never_reads_a_stored_decimal(client, model):
    """Money and numbers as people write them ($1.50, 0.9), never as stored (150.000000000000)."""
    obj = _instance(model)
    client.force_login(member(FINANCE_VIEWER))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    page = client.get(url)
    if page.status_code == 403:
        return
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())

    assert re.search(r"\d\.\d{12}", text) is None, re.search(r".{60}\d\.\d{12}", text)


def _custom_urls() -> list[tuple[type, URLPattern]]:
    found = []
    for model in REGISTERED:
        for pattern in admin.site._registry[model].get_urls():
            if (
                isinstance(pattern, URLPattern)
                and pattern.name
                and not STANDARD.search(pattern.name)
            ):
                found.append((model, pattern))
    return found


def _path_for(model, pattern, contract, product) -> str:
    kwargs = {}
    for name in pattern.pattern.converters:
        if name == "contract_id":
            kwargs[name] = contract.pk
        elif name == "product_id":
            kwargs[name] = product.pk
        elif name == "package_id":
            kwargs[name] = PackageFactory().pk
        else:
            kwargs[name] = _instance(model).pk
    return reverse(f"admin:{pattern.name}", kwargs=kwargs)


def test_a_viewer_changes_nothing_through_any_custom_admin_url(client):
    contract = ContractFactory()
    product = ProductFactory()
    client.force_login(member(FINANCE_VIEWER))
    urls = _custom_urls()
    assert {pattern.name for _, pattern in urls} >= {
        "metering_send_test_event",
        "customers_contract_from_package",
        "invoicing_invoice_print",
    }
    for model, pattern in urls:
        path = _path_for(model, pattern, contract, product)
        before = _changes()
        answer = client.post(path, {"transaction_id": "viewer-1", "customer_id": "x"})
        assert answer.status_code in (200, 302, 403, 404, 405), (pattern.name, answer.status_code)
        assert _changes() == before, pattern.name


def test_a_viewer_is_refused_the_sandbox_and_creating_a_contract(client):
    contract = ContractFactory()
    product = ProductFactory()
    client.force_login(member(FINANCE_VIEWER))

    sandbox = reverse(
        "admin:metering_send_test_event",
        kwargs={"contract_id": contract.pk, "product_id": product.pk},
    )
    assert client.get(sandbox).status_code == 403
    assert client.get(reverse("admin:customers_contract_add")).status_code == 403
    assert client.get(reverse("admin:catalog_ratecard_add")).status_code == 403


def test_only_those_who_may_send_test_events_are_offered_the_button(client):
    rate = RateFactory(product=ProductFactory(name="Input Tokens"))
    contract = ContractFactory(rate_card=rate.rate_card)
    page = reverse("admin:customers_contract_change", args=[contract.pk])
    sandbox = reverse(
        "admin:metering_send_test_event",
        kwargs={"contract_id": contract.pk, "product_id": rate.product.pk},
    )

    client.force_login(member(FINANCE_VIEWER, "viewer"))
    seen_by_viewer = client.get(page).content.decode()
    client.force_login(member(ENGINEER, "engineer"))
    seen_by_engineer = client.get(page).content.decode()

    assert "Input Tokens" in seen_by_viewer
    assert "Send test event" not in seen_by_viewer
    assert f'href="{sandbox}">Send test event</a>' in seen_by_engineer


def test_only_those_who_may_add_contracts_are_offered_the_link(client):
    customer = ContractFactory().customer
    page = reverse("admin:customers_customer_change", args=[customer.pk])
    add = reverse("admin:customers_contract_add") + f"?customer={customer.pk}"

    client.force_login(member(FINANCE_VIEWER, "viewer"))
    seen_by_viewer = client.get(page).content.decode()
    client.force_login(member(FINANCE_ADMIN, "finance"))
    seen_by_finance = client.get(page).content.decode()

    assert customer.name in seen_by_viewer
    assert "Add a contract" not in seen_by_viewer
    assert f'href="{add}">Add a contract</a>' in seen_by_finance


def test_a_finance_admin_finalizes_and_a_viewer_cannot(client):
    from tests.invoicing.factories import InvoiceFactory

    invoice = InvoiceFactory()
    url = reverse("admin:invoicing_invoice_changelist")
    client.force_login(member(FINANCE_VIEWER, "viewer"))
    client.post(url, {"action": "finalize_selected", "_selected_action": [invoice.pk]})
    assert Invoice.objects.get(pk=invoice.pk).status == "DRAFT"

    client.force_login(member(FINANCE_ADMIN, "finance"))
    page = client.get(url)
    assert {"finalize_selected", "void_selected", "regenerate_selected"} <= set(
        page.context["cl"].model_admin.get_actions(page.wsgi_request)
    )
    client.post(url, {"action": "finalize_selected", "_selected_action": [invoice.pk]})
    assert Invoice.objects.get(pk=invoice.pk).status == "FINALIZED"


def test_an_engineer_manages_tokens_but_not_prices(client):
    client.force_login(member(ENGINEER))

    assert client.get(reverse("admin:core_apitoken_add")).status_code == 200
    assert client.get(reverse("admin:catalog_billablemetric_add")).status_code == 200
    assert client.get(reverse("admin:catalog_ratecard_add")).status_code == 403
