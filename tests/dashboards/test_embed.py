"""Embeddable dashboards: POST /v1/dashboards/getEmbeddableUrl and the pages and JSON behind the
signed URL it answers (invoices, usage, commits and credits): framing, colors, options, tokens."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse

from dashboards import views
from dashboards.embed import Embed, embed_token
from invoicing.services import invoice_finalize
from tests.dashboards.world import video_world

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The dashboards' clock (only theirs: the world's rows keep their real creation times)."""
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: NOW))


def url(api_client, customer, dashboard, **more) -> str:
    response = api_client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {"customer_id": str(customer.pk), "dashboard": dashboard, **more},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]["url"]


def path_of(full_url: str) -> str:
    return full_url.removeprefix("http://testserver")


def test_the_url_is_on_this_server_with_a_signed_token(api_client, world):
    full = url(api_client, world.customer, "usage")

    assert full.startswith("http://testserver/embed/")
    assert full.endswith("/")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"dashboard": "sales"}, "dashboard: 'sales' is not one of"),
        ({"color_overrides": [{"name": "Pink", "value": "#fff"}]}, "color_overrides[0].name:"),
        (
            {"color_overrides": [{"name": "Primary_medium", "value": "red;}"}]},
            "color_overrides[0].value: Must be a hex color",
        ),
        ({"dashboard_options": [{"key": "x", "value": "1"}]}, "dashboard_options[0].key:"),
        (
            {"dashboard_options": [{"key": "invoice_type", "value": "BOTH"}]},
            "dashboard_options[0].value: Must be one of USAGE, SCHEDULED.",
        ),
        (
            {"dashboard_options": [{"key": "contract_id", "value": "nope"}]},
            "dashboard_options[0].value: 'nope' is not a valid UUID.",
        ),
        (
            {"bm_group_key_overrides": [{"display_name": "x"}]},
            "bm_group_key_overrides[0].group_key_name:",
        ),
    ],
)
def test_bad_arguments_are_a_400_naming_the_field(api_client, world, body, message):
    response = api_client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {"customer_id": str(world.customer.pk), "dashboard": "usage", **body},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


def test_a_contract_of_another_customer_is_refused(api_client, world):
    other = video_world(events=False)

    response = api_client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {
            "customer_id": str(world.customer.pk),
            "dashboard": "invoices",
            "dashboard_options": [{"key": "contract_id", "value": str(other.contract.pk)}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "is not a contract of this customer" in response.json()["message"]


def test_an_unknown_customer_is_404(api_client, db):
    response = api_client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {"customer_id": "00000000-0000-4000-8000-000000000000", "dashboard": "usage"},
        format="json",
    )

    assert response.status_code == 404


def test_the_url_needs_a_token(client, world):
    response = client.post(
        "/v1/dashboards/getEmbeddableUrl",
        {"customer_id": str(world.customer.pk), "dashboard": "usage"},
        content_type="application/json",
    )

    assert response.status_code == 401


# --- The pages --------------------------------------------------------------------------------


def test_pages_may_be_framed_by_the_configured_origins_only_here(
    client, api_client, world, settings
):
    settings.DASHBOARD_FRAME_ANCESTORS = "https://app.example.com"

    page = client.get(path_of(url(api_client, world.customer, "usage")))

    assert page.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1) for directive in page["Content-Security-Policy"].split(";")
    )
    assert policy["frame-ancestors"] == "https://app.example.com"
    assert policy["script-src"] == "'self'"  # the rest of the site's policy still holds
    assert "X-Frame-Options" not in page
    assert page["Referrer-Policy"] == "same-origin"
    assert page["Cache-Control"] == "private, no-store"
    login = client.get(reverse("admin:login"))
    assert login["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in login["Content-Security-Policy"]


def test_the_usage_dashboard_shows_usage_by_product_and_group_values(client, api_client, world):
    body = client.get(path_of(url(api_client, world.customer, "usage"))).content.decode()

    assert "Video transcoding <small>in minutes</small>" in body
    assert '1080p - marketing</td><td class="num">7</td>' in body
    assert '720p - sales</td><td class="num">3</td>' in body
    assert '<span class="spend-total">$496.60</span>' in body
    assert "December 1-31, 2026" in body
    assert 'id="dashboard-data"' in body


def test_the_usage_json_has_windows_series_and_spend(client, api_client, world):
    data = client.get(path_of(url(api_client, world.customer, "usage")) + "data.json").json()

    assert data["windows"][:3] == [
        "2026-12-01T00:00:00Z",
        "2026-12-02T00:00:00Z",
        "2026-12-03T00:00:00Z",
    ]
    (product,) = data["products"]
    assert (product["name"], product["unit"]) == ("Video transcoding", "minutes")
    series = {s["label"]: s for s in product["series"]}
    assert series["1080p - marketing"]["quantities"][2] == 7
    assert series["1080p - marketing"]["total"] == 7
    assert data["spend"]["cumulative"][0] == 49000
    assert data["spend"]["cumulative"][-1] == 49660
    assert data["spend"]["cumulative_display"][-1] == 496.6


def test_zero_usage_series_show_only_when_asked(client, api_client, world):
    hidden = client.get(path_of(url(api_client, world.customer, "usage")) + "data.json").json()
    shown = client.get(
        path_of(
            url(
                api_client,
                world.customer,
                "usage",
                dashboard_options=[{"key": "show_zero_usage_line_items", "value": "true"}],
            )
        )
        + "data.json"
    ).json()

    labels = [s["label"] for s in hidden["products"][0]["series"]]
    assert "480p - sales" in labels  # a minute of free usage is usage
    assert len(shown["products"][0]["series"]) >= len(labels)


def test_group_key_display_names_are_used(client, api_client, world):
    data = client.get(
        path_of(
            url(
                api_client,
                world.customer,
                "usage",
                bm_group_key_overrides=[
                    {
                        "group_key_name": "team",
                        "value_display_names": {"marketing": "Marketing team"},
                    }
                ],
            )
        )
        + "data.json"
    ).json()

    assert "1080p - Marketing team" in [s["label"] for s in data["products"][0]["series"]]


def test_color_overrides_set_the_pages_colors(client, api_client, world):
    body = client.get(
        path_of(
            url(
                api_client,
                world.customer,
                "usage",
                color_overrides=[
                    {"name": "Primary_medium", "value": "#ff0000"},
                    {"name": "UsageLine_0", "value": "#00ff00"},
                ],
            )
        )
    ).content.decode()

    assert ":root { --primary-medium: #ff0000; --usage-line-0: #00ff00; }" in body


def test_the_invoices_dashboard_lists_drafts_and_past_invoices_with_their_pdf(
    client, api_client, world
):
    invoice_finalize(invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC))
    page = path_of(url(api_client, world.customer, "invoices"))

    body = client.get(page).content.decode()

    assert "INV-1" in body
    assert "December 1-31, 2026" in body
    assert "$496.60" in body
    invoice = world.december()
    document = client.get(f"{page}invoices/{invoice.pk}/")
    assert document.status_code == 200
    assert "Globex Corporation" in document.content.decode()
    assert "Download PDF" in document.content.decode()
    assert "X-Frame-Options" not in document
    pdf = client.get(f"{page}invoices/{invoice.pk}.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


def test_invoice_status_filter(client, api_client, world):
    finalized_only = path_of(
        url(
            api_client,
            world.customer,
            "invoices",
            dashboard_options=[{"key": "invoice_status_filter", "value": "FINALIZED"}],
        )
    )

    assert client.get(finalized_only + "data.json").json()["invoices"] == []
    draft = world.december()
    assert client.get(f"{finalized_only}invoices/{draft.pk}/").status_code == 404


@pytest.mark.parametrize("value,listed", [("billable", True), ("all", True), ("unbillable", False)])
def test_billable_status_filter(client, api_client, world, value, listed):
    """An invoice billed on its own is billable ("unbillable": statements billed on a
    consolidated invoice, tests/dashboards/test_hierarchy_documents.py)."""
    draft = world.december()
    page = path_of(
        url(
            api_client,
            world.customer,
            "invoices",
            dashboard_options=[{"key": "billable_status_filter", "value": value}],
        )
    )

    ids = [invoice["id"] for invoice in client.get(page + "data.json").json()["invoices"]]
    assert (str(draft.pk) in ids) is listed
    assert (client.get(f"{page}invoices/{draft.pk}/").status_code == 200) is listed


def test_the_commits_and_credits_dashboard_shows_balance_left_and_burn_down(
    client, api_client, world
):
    page = path_of(url(api_client, world.customer, "commits_and_credits"))

    body = client.get(page).content.decode()
    data = client.get(page + "data.json").json()

    assert "Welcome credit" in body
    (credit,) = data["balances"]
    assert (credit["kind"], credit["granted"], credit["left"]) == ("Credit", "$10.00", "$0.00")
    assert credit["used_percent"] == 100
    assert [(p["date"], p["balance_label"]) for p in credit["burn_down"]] == [
        ("December 1, 2026", "$10.00"),
        ("December 20, 2026", "$0.00"),
    ]


def test_hide_grant_name_shows_the_product_instead(client, api_client, world):
    data = client.get(
        path_of(
            url(
                api_client,
                world.customer,
                "credits",
                dashboard_options=[{"key": "hide_grant_name", "value": "true"}],
            )
        )
        + "data.json"
    ).json()

    assert data["balances"][0]["name"] != "Welcome credit"


# --- Tokens and isolation -----------------------------------------------------------------------


def test_a_changed_token_is_a_403_plain_page(client, api_client, world):
    page = path_of(url(api_client, world.customer, "usage"))
    token = page.split("/")[2]
    changed = page.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))

    response = client.get(changed)

    assert response.status_code == 403
    assert "This dashboard link is not valid." in response.content.decode()
    assert "X-Frame-Options" not in response
    data = client.get(changed + "data.json")
    assert data.status_code == 403
    assert data.json() == {"message": "This dashboard link is not valid."}


def test_an_expired_token_is_a_403(client, api_client, world, settings):
    page = path_of(url(api_client, world.customer, "usage"))
    settings.DASHBOARD_EMBED_MAX_AGE = timedelta(seconds=-1)

    response = client.get(page)

    assert response.status_code == 403
    assert "This dashboard link has expired." in response.content.decode()
    assert client.get(page + "data.json").status_code == 403


def test_a_token_of_another_dashboard_opens_no_invoice(client, api_client, world):
    page = path_of(url(api_client, world.customer, "usage"))

    assert client.get(f"{page}invoices/{world.december().pk}/").status_code == 404
    assert client.get(f"{page}invoices/{world.december().pk}.pdf").status_code == 404


def test_pages_are_read_only(client, api_client, world):
    page = path_of(url(api_client, world.customer, "invoices"))

    assert client.post(page).status_code == 405
    assert client.post(page + "data.json").status_code == 405


def test_no_id_reaches_another_customers_data(client, api_client, world):
    """A valid token for one customer, with every id of another customer in every URL slot and
    as the JSON's period: never that customer's data."""
    other = video_world(now=NOW)
    mine = video_world(events=False, now=NOW)
    finalized = invoice_finalize(
        invoice=other.december(), now=datetime(2027, 1, 3, tzinfo=UTC)
    ).invoice
    ids = [
        other.customer.pk,
        other.contract.pk,
        finalized.pk,
        other.transcoding.pk,
        *other.contract.invoices.values_list("pk", flat=True),
        *other.contract.credits.values_list("pk", flat=True),
    ]
    for dashboard in ("invoices", "usage", "commits_and_credits"):
        page = path_of(url(api_client, mine.customer, dashboard))
        for some_id in ids:
            for path in (f"{page}invoices/{some_id}/", f"{page}invoices/{some_id}.pdf"):
                response = client.get(path)
                assert response.status_code == 404, (dashboard, path)
            data = client.get(page + "data.json", {"period": finalized.start_timestamp.isoformat()})
            text = data.content.decode()
            for some in ids:
                assert str(some) not in text
            assert "Globex Corporation" in text or dashboard != "invoices"
        # And the token's own customer: no other customer's total anywhere.
        assert "$496.60" not in client.get(page).content.decode()


def test_a_token_made_elsewhere_with_the_same_payload_but_no_signature_is_refused(client, world):
    token = embed_token(Embed(str(world.customer.pk), "usage"))
    payload = token.split(":")[0]

    assert client.get(f"/embed/{payload}/").status_code == 403


def test_the_url_is_on_the_public_base_when_one_is_set(api_client, world, settings):
    settings.DASHBOARD_BASE_URL = "https://billing.example.com/"

    assert url(api_client, world.customer, "usage").startswith("https://billing.example.com/embed/")


def test_show_zero_usage_line_items_keeps_zero_lines_on_the_framed_document(
    client, api_client, world
):
    invoice = world.december()
    plain = path_of(url(api_client, world.customer, "invoices"))
    zeros = path_of(
        url(
            api_client,
            world.customer,
            "invoices",
            dashboard_options=[{"key": "show_zero_usage_line_items", "value": "true"}],
        )
    )

    assert "480p - sales" not in client.get(f"{plain}invoices/{invoice.pk}/").content.decode()
    shown = client.get(f"{zeros}invoices/{invoice.pk}/").content.decode()
    assert "480p - sales" in shown
    assert "4k - marketing" not in shown  # usage without a price is never on the customer's copy
