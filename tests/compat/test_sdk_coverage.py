"""Issue 14's count: every SDK method called once in strict mode, the table printed (run with -s
to read it), and what must hold: every method of ours works, the legacy ones answer a 4xx that
says what replaces them, and nothing answers a server error or an invalid body."""

from datetime import timedelta

from django.conf import settings

from invoicing.services import invoices_finalize_due
from payments.models import BillingProviderConnection
from tests.compat import sdk_coverage


def _finalize_last_month(world) -> None:
    this_month = sdk_coverage._month_start(world["now"])
    due = max(world["now"], this_month + settings.BILLING_FINALIZATION_GRACE + timedelta(minutes=1))
    invoices_finalize_due(now=due)


def test_every_sdk_method_is_in_the_table():
    methods = sdk_coverage.sdk_methods()
    assert len(methods) == 126
    assert sorted(sdk_coverage.CALLS) == methods
    assert sdk_coverage.LEGACY | set(sdk_coverage.OWNED_ELSEWHERE) <= set(methods)


def test_sdk_coverage(client):
    # Stripe connected, as finance staff do in the admin's Billing providers page (no call
    # leaves the machine: configurations only name the Stripe customer).
    BillingProviderConnection.objects.create(
        secret_key="sk_test_coverage", webhook_secret="whsec_coverage"
    )
    world = sdk_coverage.build_world(client)
    _finalize_last_month(world)
    outcomes = sdk_coverage.run(client, world, sdk_coverage.sdk_methods())
    print("\n" + sdk_coverage.report(outcomes))

    ours = {o.method: o.answer for o in outcomes if o.group == "ours"}
    assert {m: a for m, a in ours.items() if a != "ok"} == {}
    legacy = {o.method: o.answer for o in outcomes if o.group == "legacy"}
    assert all(
        answer.startswith("4xx") and "contracts" in answer.lower() for answer in legacy.values()
    ), legacy
    assert [o.method for o in outcomes if o.server_error] == []
