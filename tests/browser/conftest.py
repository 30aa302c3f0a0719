"""Browser tests: Playwright for Python driving Debian's Chromium (`apt-get install -y chromium`,
done by .ci/run; never a browser download) against pytest-django's live server.

Shared by every browser test (the finance desk's, the customer-facing dashboards'):
- `browser`: one headless Chromium per session, from CHROMIUM (default /usr/bin/chromium);
- `page_at(width, height=900)`: a fresh page (own cookies) of that viewport size, with a base URL
  on the live server; `desktop` (1366 x 900) and `phone` (390 x 844) are the two every test uses;
- `login(page, user)`: through the admin's login form, as a person would;
- `field(scope, "Name")`: a form field by its label, exactly as the admin writes it;
- `staff(role)`: a staff user in one of the role groups (`roles.definitions`), password "pw";
- `no_horizontal_scroll(page)` and `right_edge(locator)` for layout checks.

Playwright's sync API runs an event loop in the test's thread, which Django would take for an
async context: DJANGO_ALLOW_ASYNC_UNSAFE lets the test's own ORM calls through.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from tests.catalog.factories import usd_cents

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DESKTOP = (1366, 900)
PHONE = (390, 844)
PASSWORD = "pw"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(apt-get install -y chromium, as .ci/run does) or set CHROMIUM."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def world_db(transactional_db):
    """The live server sees committed rows only; a transactional test's flush removes the rows
    migrations seeded (the USD unit, the role groups): put them back."""
    from roles.services import roles_sync

    usd_cents()
    roles_sync()


@pytest.fixture
def page_at(browser, live_server, world_db):
    contexts = []

    def open_page(width: int, height: int = 900):
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def desktop(page_at):
    return page_at(*DESKTOP)


@pytest.fixture
def phone(page_at):
    return page_at(*PHONE)


@pytest.fixture
def superuser(world_db) -> User:
    return User.objects.create_superuser("finance", email="", password=PASSWORD)


@pytest.fixture
def staff(world_db):
    def make(role: str, username: str | None = None) -> User:
        user = User.objects.create_user(
            username or role.lower().replace(" ", "-"), password=PASSWORD, is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


def login(page, user: User) -> None:
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")


def field(scope, label: str):
    """A form field by its label as the admin writes it ("Name:"), exactly."""
    return scope.get_by_label(f"{label}:", exact=True)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def right_edge(locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "the element is not displayed"
    return box["x"] + box["width"]
