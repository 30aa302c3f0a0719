"""Login throttling (django-axes), the Content-Security-Policy the admin and the API docs work
under, and `check --deploy` clean with production settings."""

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse

from tests.test_admin_smoke import REGISTERED, _url

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "the-right-password-1"


def _login(client, password, address="10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "finance", "password": password},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def finance_user():
    return User.objects.create_superuser("finance", "finance@example.com", PASSWORD)


def test_the_right_password_after_30_wrong_ones_is_refused(client, finance_user):
    for _ in range(30):
        assert _login(client, "wrong").status_code in (200, 429)
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_lockout_starts_at_the_fifth_wrong_password(client, finance_user):
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200
    assert _login(client, PASSWORD).status_code == 302  # a success resets the count
    client.logout()
    for _ in range(5):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 429


def test_a_lockout_holds_for_one_address_not_for_the_account_everywhere(client, finance_user):
    for _ in range(5):
        _login(client, "wrong", address="10.0.0.1")
    assert _login(client, PASSWORD, address="10.0.0.1").status_code == 429
    assert _login(client, PASSWORD, address="10.0.0.2").status_code == 302


class _InlineCode(HTMLParser):
    """Everything a script-src 'self' policy would refuse: inline scripts, on* handlers and
    javascript: links."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self._in_script = attributes.get("type") not in ("application/json", "text/template")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")


def _inline_code(response) -> list[str]:
    parser = _InlineCode()
    parser.feed(response.content.decode())
    return parser.found


def _policy(response) -> dict:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


def test_the_policy_allows_scripts_from_this_site_only(admin_client):
    policy = _policy(admin_client.get("/admin/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_admin_pages_hold_no_code_the_policy_refuses(admin_client, model):
    for view in ("changelist", "add"):
        try:
            url = _url(model, view)
        except NoReverseMatch:
            continue
        response = admin_client.get(url)
        if response.status_code == 200:
            assert "Content-Security-Policy" in response
            assert _inline_code(response) == [], url
    assert model in admin.site._registry


def test_the_admin_index_login_and_printable_invoice_hold_no_inline_code(admin_client, client):
    from tests.invoicing.factories import InvoiceFactory

    invoice = InvoiceFactory()
    for response in (
        admin_client.get("/admin/"),
        client.get("/admin/login/"),
        admin_client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk])),
        admin_client.get(reverse("admin:invoicing_invoice_change", args=[invoice.pk])),
    ):
        assert response.status_code == 200
        assert _inline_code(response) == []
    body = admin_client.get(reverse("admin:invoicing_invoice_print", args=[invoice.pk]))
    assert "invoicing/print.js" in body.content.decode()


def test_the_api_docs_load_their_script_from_a_file(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert _inline_code(page) == []
    assert "/api/docs/?script=" in page.content.decode()
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert _policy(page)["img-src"] == ["'self'", "data:"]


def _check_deploy(**environment) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "billing_site.settings.production",
        "SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-key-for-the-check-0123456789",
        "DATABASE_URL": "postgres://billing@127.0.0.1:1/billing",
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_behind_a_tls_proxy_redirect_and_hsts_can_be_turned_off_explicitly():
    result = _check_deploy(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (2 silenced)." in result.stdout


def test_production_settings_redirect_to_https_and_send_hsts():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "billing_site.settings.production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://billing@127.0.0.1:1/billing",
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == ["True", "31536000", "True"], result.stderr
