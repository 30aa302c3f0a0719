"""The metric add form's "Example event payload" box: served from the fields as typed so far,
before anything is saved (the browser test watches it follow the typing)."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import BillableMetric

pytestmark = pytest.mark.django_db

URL = reverse("admin:catalog_billablemetric_example_event")


def test_the_example_follows_the_fields_typed_so_far(admin_client):
    answer = admin_client.get(
        URL,
        {
            "aggregation_type": "SUM",
            "aggregation_key": "num_tokens",
            "event_types_in": "tokens_usage",
            "property_filters": "region in us-east, us-west\ndebug does not exist",
            "group_keys": "model_name\nmodel_name, user_id",
        },
    )

    assert answer.status_code == 200
    example = answer.json()["example"]
    assert example["event_type"] == "tokens_usage"
    assert example["properties"] == {
        "num_tokens": "100",
        "model_name": "model_name-value",
        "user_id": "user_id-value",
        "region": "us-east",
    }
    assert not BillableMetric.objects.exists()


def test_a_half_typed_filter_leaves_the_rest_of_the_example(admin_client):
    answer = admin_client.get(
        URL,
        {
            "aggregation_type": "COUNT",
            "event_types_in": "api_call",
            "property_filters": "region in",
        },
    )

    assert answer.json()["example"]["event_type"] == "api_call"
    assert answer.json()["example"]["properties"] == {}


def test_the_add_page_carries_the_live_box(admin_client):
    html = admin_client.get(reverse("admin:catalog_billablemetric_add")).content.decode()

    assert f'id="example-event-payload" data-example-url="{URL}"' in html
    assert "admin_extra/example_event.js" in html


def test_the_example_needs_the_view_permission(client):
    client.force_login(User.objects.create_user("nobody", password="pw", is_staff=True))

    assert client.get(URL).status_code == 403


def test_the_example_needs_a_staff_login(client):
    answer = client.get(URL)

    assert answer.status_code == 403
    assert answer.json() == {"message": "Authentication credentials were not provided."}
