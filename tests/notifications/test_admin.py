"""The Developers section: endpoints (secret shown once), deliveries (attempts, resend), alerts,
the customer page's alerts, and the permissions each action needs."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from notifications.models import CustomerAlert, WebhookDelivery, WebhookEndpoint
from tests.customers.factories import CustomerFactory

from .factories import AlertFactory, DeliveryAttemptFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


def _staff(*codenames) -> User:
    user = User.objects.create_user("dev", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_the_index_has_a_developers_section(admin_client):
    sections = admin_client.get(reverse("admin:index")).context["app_list"]
    developers = next(s for s in sections if s["name"] == "Developers")
    assert [m["name"] for m in developers["models"]] == [
        "API tokens",
        "Webhook endpoints",
        "Webhook deliveries",
        "Alerts",
        "Usage events",
        "Domain events",
    ]


def test_adding_an_endpoint_shows_its_secret_once(admin_client):
    answer = admin_client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {
            "url": "https://hooks.example.com/billing",
            "description": "ERP",
            "event_types": "invoice.finalized, alerts.*",
            "enabled": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["alerts.*", "invoice.finalized"]
    page = answer.content.decode()
    assert endpoint.secret in page
    again = admin_client.get(
        reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])
    )
    html = again.content.decode()
    assert endpoint.secret not in html
    assert endpoint.secret_hint in html


def test_a_bad_url_is_refused_on_the_form(admin_client):
    answer = admin_client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {"url": "ftp://hooks.example.com", "event_types": ""},
    )
    assert "The URL must start with http:// or https://." in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_and_sending_a_test_event_need_the_change_permission(client, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    url = reverse("admin:notifications_webhookendpoint_changelist")
    client.force_login(_staff("view_webhookendpoint"))
    client.post(url, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    assert WebhookEndpoint.objects.get().secret == endpoint.secret

    User.objects.filter(username="dev").delete()
    client.force_login(_staff("view_webhookendpoint", "change_webhookendpoint"))
    answer = client.post(
        url, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    rotated = WebhookEndpoint.objects.get()
    assert rotated.secret != endpoint.secret
    assert rotated.previous_secret == endpoint.secret
    assert rotated.secret in answer.content.decode()

    client.post(url, {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert [r.json["type"] for r in receiver.received] == ["webhooks.test"]


def test_the_delivery_page_shows_payload_and_attempts_and_resend_needs_change(client):
    attempt = DeliveryAttemptFactory()
    delivery = attempt.delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="FAILED")
    client.force_login(_staff("view_webhookdelivery"))
    page = client.get(reverse("admin:notifications_webhookdelivery_change", args=[delivery.pk]))
    html = page.content.decode()
    assert "upstream down" in html
    assert "503" in html
    assert "invoice.finalized" in html
    url = reverse("admin:notifications_webhookdelivery_changelist")
    client.post(url, {"action": "resend", "_selected_action": [delivery.pk]})
    assert WebhookDelivery.objects.get().status == "FAILED"

    User.objects.filter(username="dev").delete()
    client.force_login(_staff("view_webhookdelivery", "change_webhookdelivery"))
    client.post(url, {"action": "resend", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "PENDING"


def test_a_failed_delivery_shows_a_warning_on_the_endpoint(admin_client):
    attempt = DeliveryAttemptFactory()
    WebhookDelivery.objects.update(status="FAILED")
    page = admin_client.get(reverse("admin:notifications_webhookendpoint_changelist"))
    assert "1 delivery failed after 72 hours of retries" in page.content.decode()
    assert attempt.delivery.endpoint.url in page.content.decode()


def test_the_customer_page_shows_its_alerts_and_their_state(admin_client):
    customer = CustomerFactory()
    mine = AlertFactory(customer=customer, name="Spend over $100")
    AlertFactory(name="Everyone's invoices")
    CustomerAlert.objects.create(
        alert=mine,
        customer=customer,
        status="in_alarm",
        value=12000,
        triggered_by="The current usage invoice's spend is 12000.",
        updated_at=mine.created_at,
    )
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    html = page.content.decode()
    assert "Threshold alerts" in html
    assert "Spend over $100" in html
    assert "In alarm" in html
    assert "The current usage invoice&#x27;s spend is 12000." in html
    assert "Everyone&#x27;s invoices" in html
    assert "every customer" in html


def test_the_command_prints_the_secret_once_and_refuses_a_bad_url(capsys):
    call_command(
        "webhook_endpoint_add",
        "https://hooks.example.com/x",
        "--events",
        "invoice.finalized",
        "alerts.*",
    )
    out = capsys.readouterr().out
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["alerts.*", "invoice.finalized"]
    assert re.search(r"^whsec_\S+$", out, re.M).group(0) == endpoint.secret
    with pytest.raises(
        CommandError, match=re.escape("The URL must start with http:// or https://.")
    ):
        call_command("webhook_endpoint_add", "hooks.example.com")
    assert WebhookEndpoint.objects.count() == 1


def test_an_alerts_custom_field_filters_show_on_its_page_and_the_customer_page(client):
    customer = CustomerFactory()
    alert = AlertFactory(
        customer=customer,
        name="Gold spend",
        custom_field_filters=[
            {"entity": "Contract", "key": "tier", "value": "gold"},
            {"entity": "Contract", "key": "region", "value": "eu"},
        ],
    )
    shown = "Contract tier = gold and Contract region = eu"
    page = reverse("admin:notifications_alert_change", args=[alert.pk])
    client.force_login(_staff("view_customer"))
    assert client.get(page).status_code == 403
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content
    assert shown in html.decode()

    User.objects.filter(username="dev").delete()
    client.force_login(_staff("view_alert"))
    html = client.get(page).content.decode()
    assert "Custom field filters" in html
    assert shown in html


def test_an_alerts_specifiers_show_on_its_page_and_the_customer_page(client):
    customer = CustomerFactory()
    alert = AlertFactory(
        customer=customer,
        name="Team balances",
        type="low_remaining_contract_credit_and_commit_balance_reached",
        alert_specifiers=[
            {
                "custom_field_filters": [{"entity": "ContractCreditOrCommit", "key": "team"}],
                "exclude": [
                    {
                        "custom_field_filters": [
                            {"entity": "ContractCredit", "key": "perpetual", "value": "yes"}
                        ]
                    }
                ],
            },
            {"custom_field_filters": [{"entity": "Commit", "key": "id", "value": "c-1"}]},
        ],
    )
    shown = (
        "each ContractCreditOrCommit team apart except ContractCredit perpetual = yes; "
        "or Commit id = c-1"
    )
    client.force_login(_staff("view_customer", "view_alert"))
    html = client.get(reverse("admin:notifications_alert_change", args=[alert.pk])).content
    assert "Alert specifiers (balances counted)" in html.decode()
    assert shown in html.decode()
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content
    assert f"Balances: {shown}" in html.decode()


def test_saving_an_alert_whose_filter_key_was_removed_since_is_not_refused(admin_client):
    alert = AlertFactory(
        custom_field_filters=[{"entity": "Contract", "key": "gone", "value": "x"}],
    )
    page = reverse("admin:notifications_alert_change", args=[alert.pk])
    assert admin_client.post(page, {}).status_code == 302


def test_a_quantity_alert_says_it_counts_units_on_its_page_and_the_customer_page(client):
    customer = CustomerFactory()
    alert = AlertFactory(
        customer=customer,
        name="Few calls left",
        type="low_remaining_commit_balance_reached",
        access_type="QUANTITY",
    )
    client.force_login(_staff("view_alert", "view_customer"))
    html = client.get(reverse("admin:notifications_alert_change", args=[alert.pk])).content
    assert "Quantity (units)" in html.decode()
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content
    assert "Low commit balance (units)" in html.decode()
