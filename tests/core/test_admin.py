"""The outbox page: read-only, and running pending reactions needs the change permission."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from core.models import DomainEventHandling
from tests.core.factories import DomainEventHandlingFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:core_domainevent_changelist")


def _staff(*codenames) -> User:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_a_viewer_sees_events_but_cannot_run_their_reactions(client):
    handling = DomainEventHandlingFactory(handler="tests.core.test_outbox._react")
    client.force_login(_staff("view_domainevent"))

    page = client.get(URL)
    assert page.status_code == 200
    assert "run_pending" not in page.content.decode()

    answer = client.post(
        URL, {"action": "run_pending", "_selected_action": [handling.event_id]}, follow=True
    )
    assert answer.status_code == 200
    assert DomainEventHandling.objects.get(pk=handling.pk).done_at is None


def test_the_change_permission_runs_pending_reactions(client):
    import tests.core.test_outbox  # noqa: F401  (registers the test handler)

    handling = DomainEventHandlingFactory(handler="tests.core.test_outbox._react")
    client.force_login(_staff("view_domainevent", "change_domainevent"))

    answer = client.post(
        URL, {"action": "run_pending", "_selected_action": [handling.event_id]}, follow=True
    )

    assert "1 pending reaction(s) ran to success." in answer.content.decode()
    assert DomainEventHandling.objects.get(pk=handling.pk).done_at is not None


def test_an_event_page_is_read_only(client):
    handling = DomainEventHandlingFactory()
    client.force_login(_staff("view_domainevent", "change_domainevent"))

    page = client.get(reverse("admin:core_domainevent_change", args=[handling.event_id]))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "invoicing.handlers.contract_created" in page.content.decode()
