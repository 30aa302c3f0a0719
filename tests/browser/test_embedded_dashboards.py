"""The embedded dashboards in a real browser (Playwright driving Debian's chromium, no browser
download): inside an <iframe> of a page served from another port, the usage dashboard draws its
chart with the expected totals, and an invoice's PDF downloads, at desktop and phone widths."""

import http.server
import io
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from dashboards.embed import Embed, embed_token
from invoicing.services import invoice_finalize
from tests.dashboards.world import company_profile, video_world

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM}")


@pytest.fixture
def world(transactional_db):
    from tests.catalog.factories import usd_cents

    usd_cents()  # a transactional test flushes the seeded unit; put it back
    company_profile()
    world = video_world()
    invoice_finalize(invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC))
    return world


@pytest.fixture
def host_page():
    """A page on another origin (its own port) that frames a URL given as `?src=`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            src = self.path.split("?src=", 1)[1] if "?src=" in self.path else ""
            body = (
                "<!DOCTYPE html><title>Our product</title><h1>Your account</h1>"
                f'<iframe title="Billing" src="{src}" style="width:100%;height:1400px;border:0">'
                "</iframe>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def embedded(live_server, world, dashboard: str) -> str:
    token = embed_token(Embed(str(world.customer.pk), dashboard))
    return f"{live_server.url}/embed/{token}/"


@pytest.mark.parametrize("width", [1366, 390])
def test_the_usage_dashboard_draws_its_chart_inside_a_frame_of_another_site(
    live_server, world, host_page, browser, width
):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{host_page}?src={embedded(live_server, world, 'usage')}")
    frame = page.frame_locator("iframe[title=Billing]")

    product = frame.get_by_role("region", name="Video transcoding")
    row = product.get_by_role("row", name="1080p - marketing")
    assert row.get_by_role("cell").last.inner_text() == "7"
    assert frame.locator(".spend-total").inner_text() == "$496.60"
    chart = frame.get_by_role("img", name="Video transcoding by day")
    chart.evaluate(  # the page's deferred script draws it
        """canvas => new Promise(resolve => (function wait() {
            if (typeof Chart !== "undefined" && Chart.getChart(canvas)) { resolve(); }
            else { setTimeout(wait, 20); }
        })())"""
    )
    drawn = chart.evaluate(
        """canvas => {
            const chart = Chart.getChart(canvas);
            const totals = {};
            for (const set of chart.data.datasets) {
                totals[set.label] = set.data.reduce((a, b) => a + b, 0);
            }
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) painted++; }
            return {totals, painted, width: canvas.clientWidth};
        }"""
    )
    assert drawn["totals"] == {
        "1080p - marketing": 7,
        "480p - sales": 1,
        "4k - marketing": 1,
        "720p - sales": 3,
    }
    assert drawn["painted"] > 1000
    assert drawn["width"] <= width
    inner = page.frames[1]
    assert inner.evaluate("document.documentElement.scrollWidth") <= inner.evaluate(
        "document.documentElement.clientWidth"
    )


def test_an_invoice_pdf_downloads_from_the_framed_invoices_dashboard(
    live_server, world, host_page, browser
):
    page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page.goto(f"{host_page}?src={embedded(live_server, world, 'invoices')}")
    frame = page.frame_locator("iframe[title=Billing]")

    row = frame.get_by_role("row", name="INV-1")
    assert "$496.60" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_role("link", name="Download the PDF of INV-1").click()
    content = Path(download.value.path()).read_bytes()

    assert download.value.suggested_filename == "invoice-INV-1.pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "Invoice INV-1" in text
    assert "$496.60" in text


def test_the_document_opens_in_the_frame_and_links_its_pdf(live_server, world, host_page, browser):
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(f"{host_page}?src={embedded(live_server, world, 'invoices')}")
    frame = page.frame_locator("iframe[title=Billing]")

    frame.get_by_role("link", name="INV-1", exact=True).click()

    expect = playwright.expect  # waits for the frame's navigation, as a person would
    expect(frame.get_by_role("heading", name="Invoice INV-1")).to_be_visible()
    expect(frame.get_by_text("Globex Corporation")).to_be_visible()
    expect(frame.get_by_role("link", name="Download PDF")).to_be_visible()
