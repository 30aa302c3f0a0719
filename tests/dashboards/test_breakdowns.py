"""Invoices by day or hour (`invoicing.selectors.breakdowns`) and their two endpoints:
/v1/customers/{id}/invoices/breakdowns and the legacy /v1/customers/{id}/costs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog.models import Rate
from invoicing.selectors import customer_breakdowns, invoice_breakdowns, spend_over_time
from invoicing.services import invoice_finalize
from tests.catalog.factories import BillableMetricFactory, ProductFactory, usd_cents
from tests.dashboards.world import DEC, JAN, event
from tests.invoicing.factories import ingest

pytestmark = pytest.mark.django_db

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def day(n: int) -> datetime:
    return datetime(2026, 12, n, tzinfo=UTC)


def by_day(breakdowns) -> dict[int, object]:
    return {b.starting_at.day: b for b in breakdowns}


def test_the_windows_of_a_period_add_up_to_its_invoice(world):
    invoice = world.december()

    breakdowns = invoice_breakdowns(invoice=invoice)

    assert len(breakdowns) == 31
    assert sum(b.total for b in breakdowns) == Decimal("49660")
    assert sum(b.subtotal for b in breakdowns) == Decimal("50660")
    assert (breakdowns[0].starting_at, breakdowns[-1].ending_before) == (DEC, JAN)


def test_each_day_holds_what_it_added(world):
    days = by_day(invoice_breakdowns(invoice=world.december()))

    assert (days[1].subtotal, days[1].total) == (Decimal(50000), Decimal(49000))
    assert {line.type for line in days[1].lines} == {"subscription", "applied_commit_or_credit"}
    assert days[2].total == 0 and days[2].lines == []
    assert days[3].total == Decimal(540)
    assert days[4].total == Decimal(120)
    assert days[6].total == 0  # 4k has no price
    unpriced = [line for line in days[6].lines if line.is_unpriced]
    assert [(line.pricing_group_values, line.quantity) for line in unpriced] == [
        ({"resolution": "4k"}, Decimal(1))
    ]


def test_tiers_are_counted_over_the_whole_period(world):
    ingest([event(world.customer, "1080p", "marketing", 120, 10)])  # 2 more minutes

    days = by_day(invoice_breakdowns(invoice=world.december()))

    tenth = [
        (line.tier_level, line.quantity, line.total) for line in days[10].lines if line.tier_level
    ]
    # Tiers 1 and 2 filled on the 3rd: the 10th's minutes are all at $0.50.
    assert (3, Decimal(2), Decimal(100)) in tenth
    assert days[10].total == Decimal(100)


def test_a_group_without_usage_that_day_is_a_zero_line(world):
    days = by_day(invoice_breakdowns(invoice=world.december()))

    later = [line for line in days[4].lines if line.pricing_group_values == {"resolution": "1080p"}]
    assert [(line.tier_level, line.quantity) for line in later] == [(3, Decimal(0))]


def test_hour_windows(world):
    breakdowns = invoice_breakdowns(
        invoice=world.december(),
        window_size="HOUR",
        starting_on=day(3),
        ending_before=day(3) + timedelta(hours=12),
    )

    assert len(breakdowns) == 12
    assert [b.starting_at.hour for b in breakdowns if b.total] == [10]
    assert breakdowns[10].total == Decimal(540)


def test_unique_users_are_counted_once_over_the_period(world):
    metric = BillableMetricFactory(
        name="Active users",
        aggregation_type="UNIQUE",
        aggregation_key="user",
        event_type_filter={"in_values": ["login"]},
        property_filters=[],
        group_keys=[],
    )
    seats = ProductFactory(name="Active users", billable_metric=metric)
    Rate.objects.create(
        rate_card=world.contract.rate_card,
        product=seats,
        rate_type="FLAT",
        price=Decimal(100),
        starting_at=DEC,
        credit_type=usd_cents(),
    )
    ingest(
        [
            {
                "transaction_id": f"login-{n}",
                "customer_id": str(world.customer.pk),
                "event_type": "login",
                "timestamp": f"2026-12-0{d}T08:00:00Z",
                "properties": {"user": user},
            }
            for n, (d, user) in enumerate([(3, "ann"), (4, "ann"), (4, "bob"), (5, "ann")])
        ]
    )

    days = by_day(invoice_breakdowns(invoice=world.december()))

    def users(d):
        return [
            (line.quantity, line.total) for line in days[d].lines if line.name == "Active users"
        ]

    # ann on the 3rd, bob new on the 4th (ann again is no one new), nobody new on the 5th.
    assert users(3) == [(Decimal(1), Decimal(100))]
    assert users(4) == [(Decimal(1), Decimal(100))]
    assert users(5) == [(Decimal(0), Decimal(0))]


def test_a_finalized_invoice_is_broken_down_from_its_frozen_rates(world):
    invoice = invoice_finalize(
        invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC)
    ).invoice
    world.transcoding.rates.update(price=Decimal(99999))  # today's card changed

    breakdowns = invoice_breakdowns(invoice=invoice)

    assert sum(b.total for b in breakdowns) == invoice.total == Decimal(49660)


def test_a_late_event_shows_on_its_day_of_a_finalized_invoice(world):
    invoice = invoice_finalize(
        invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC)
    ).invoice
    ingest([event(world.customer, "720p", "sales", 60, 20)], now=datetime(2027, 1, 4, tzinfo=UTC))

    days = by_day(invoice_breakdowns(invoice=invoice))

    assert days[20].total == Decimal(40)
    assert invoice.total == Decimal(49660)  # the invoice itself does not change


def test_customer_breakdowns_leave_void_invoices_out_unless_asked(world):
    from invoicing.services import invoice_void

    invoice = invoice_finalize(
        invoice=world.december(), now=datetime(2027, 1, 3, tzinfo=UTC)
    ).invoice
    invoice_void(invoice=invoice, now=datetime(2027, 1, 4, tzinfo=UTC))

    assert customer_breakdowns(customer=world.customer, starting_on=DEC, ending_before=JAN) == []
    void = customer_breakdowns(
        customer=world.customer, starting_on=DEC, ending_before=JAN, statuses=["VOID"]
    )
    assert len(void) == 31


# --- The endpoints ---------------------------------------------------------------------------


def breakdowns(api_client, world, **params):
    params = {
        "starting_on": "2026-12-01T00:00:00Z",
        "ending_before": "2026-12-08T00:00:00Z",
        **params,
    }
    return api_client.get(f"/v1/customers/{world.customer.pk}/invoices/breakdowns", params)


def test_breakdowns_answer_invoices_with_their_window(api_client, world):
    response = breakdowns(api_client, world)

    assert response.status_code == 200
    body = response.json()
    assert body["next_page"] is None
    first = body["data"][0]
    assert first["id"] == str(world.december().pk)
    assert first["breakdown_start_timestamp"] == "2026-12-01T00:00:00Z"
    assert first["breakdown_end_timestamp"] == "2026-12-02T00:00:00Z"
    assert (first["subtotal"], first["total"]) == (50000, 49000)
    assert [d["total"] for d in body["data"]] == [49000, 0, 540, 120, 0, 0, 0]


def test_breakdowns_skip_zero_quantity_lines(api_client, world):
    body = breakdowns(api_client, world, skip_zero_qty_line_items="true").json()

    fourth = body["data"][3]
    assert [line["pricing_group_values"] for line in fourth["line_items"]] == [
        {"resolution": "720p"}
    ]


def test_breakdowns_page_by_windows_in_either_order(api_client, world):
    first = breakdowns(api_client, world, limit=3).json()
    assert [d["breakdown_start_timestamp"][8:10] for d in first["data"]] == ["01", "02", "03"]
    second = breakdowns(api_client, world, limit=3, next_page=first["next_page"]).json()
    assert [d["breakdown_start_timestamp"][8:10] for d in second["data"]] == ["04", "05", "06"]
    third = breakdowns(api_client, world, limit=3, next_page=second["next_page"]).json()
    assert [d["breakdown_start_timestamp"][8:10] for d in third["data"]] == ["07"]
    assert third["next_page"] is None

    newest = breakdowns(api_client, world, limit=3, sort="date_desc").json()
    assert [d["breakdown_start_timestamp"][8:10] for d in newest["data"]] == ["07", "06", "05"]
    older = breakdowns(
        api_client, world, limit=3, sort="date_desc", next_page=newest["next_page"]
    ).json()
    assert [d["breakdown_start_timestamp"][8:10] for d in older["data"]] == ["04", "03", "02"]


def test_hour_breakdowns_page_by_24_hours(api_client, world):
    body = breakdowns(api_client, world, window_size="HOUR").json()

    assert len(body["data"]) == 24
    assert body["next_page"] is not None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"starting_on": ""}, "starting_on: This field is required."),
        ({"ending_before": "soon"}, "ending_before: 'soon' is not an RFC 3339 timestamp."),
        ({"ending_before": "2026-11-01T00:00:00Z"}, "ending_before: Must be after starting_on."),
        ({"window_size": "WEEK"}, "window_size: Must be HOUR or DAY."),
        ({"status": "LATE"}, "status: 'LATE' is not one of DRAFT, FINALIZED, VOID."),
        ({"sort": "up"}, "sort: Must be date_asc or date_desc."),
        ({"limit": "36"}, "limit: Must be an integer from 1 to 35."),
        ({"window_size": "HOUR", "limit": "25"}, "limit: Must be an integer from 1 to 24."),
        ({"next_page": "%%%"}, "next_page: Not a cursor this server issued."),
        ({"credit_type_id": "usd"}, "credit_type_id"),
    ],
)
def test_breakdown_errors_name_the_field(api_client, world, params, message):
    response = breakdowns(api_client, world, **params)

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


def test_breakdowns_of_an_unknown_customer_are_404(api_client, db):
    response = api_client.get(
        "/v1/customers/00000000-0000-4000-8000-000000000000/invoices/breakdowns",
        {"starting_on": "2026-12-01T00:00:00Z", "ending_before": "2026-12-02T00:00:00Z"},
    )

    assert response.status_code == 404
    assert response.json() == {
        "message": "Customer 00000000-0000-4000-8000-000000000000 not found."
    }


def test_costs_answer_every_day_with_its_cost_and_lines(api_client, world):
    response = api_client.get(
        f"/v1/customers/{world.customer.pk}/costs",
        {"starting_on": "2026-12-02T00:00:00Z", "ending_before": "2026-12-05T00:00:00Z"},
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["start_timestamp"] for d in data] == [
        "2026-12-02T00:00:00Z",
        "2026-12-03T00:00:00Z",
        "2026-12-04T00:00:00Z",
    ]
    assert data[0]["credit_types"] == {
        USD: {"name": "USD (cents)", "cost": 0, "line_item_breakdown": []}
    }
    assert data[2]["credit_types"][USD] == {
        "name": "USD (cents)",
        "cost": 120,
        "line_item_breakdown": [
            {"name": "Video transcoding", "cost": 120, "group_key": "team", "group_value": "sales"}
        ],
    }


def test_costs_page_by_days(api_client, world):
    first = api_client.get(
        f"/v1/customers/{world.customer.pk}/costs",
        {
            "starting_on": "2026-12-01T00:00:00Z",
            "ending_before": "2026-12-05T00:00:00Z",
            "limit": 2,
        },
    ).json()

    assert len(first["data"]) == 2
    rest = api_client.get(
        f"/v1/customers/{world.customer.pk}/costs",
        {
            "starting_on": "2026-12-01T00:00:00Z",
            "ending_before": "2026-12-05T00:00:00Z",
            "limit": 2,
            "next_page": first["next_page"],
        },
    ).json()
    assert [d["start_timestamp"][8:10] for d in rest["data"]] == ["03", "04"]
    assert rest["next_page"] is None


def test_spend_over_time_is_what_charts_draw(world):
    over_time = spend_over_time(
        customer_breakdowns(customer=world.customer, starting_on=DEC, ending_before=JAN)
    )

    assert len(over_time.windows) == 31
    assert over_time.spend_so_far[0] == Decimal(49000)
    assert over_time.spend_so_far[-1] == Decimal(49660)
    usage = {dict(s.pricing_group_values)["resolution"]: s.quantities for s in over_time.usage}
    assert sum(usage["1080p"]) == Decimal(7)
    assert usage["1080p"][2] == Decimal(7)  # all on December 3
    assert over_time.credit_type.name == "USD (cents)"
