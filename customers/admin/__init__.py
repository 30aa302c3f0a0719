"""The Customers section of the admin: customers with their aliases and usage, contracts with their
terms and invoices, commits and credits.

One module per page family (`customers`, `contracts`, `balances`); importing this package registers
them all. `send_test_event_url` stays here (tests replace this module's `reverse`).
"""

from django.urls import NoReverseMatch, reverse


def send_test_event_url(contract, product) -> str | None:
    """The sandbox form for this contract and product, once the metering admin provides it."""
    try:
        return reverse(
            "admin:metering_send_test_event",
            kwargs={"contract_id": contract.pk, "product_id": product.pk},
        )
    except NoReverseMatch:
        return None


from . import balances, contracts, customers, more_terms  # noqa: E402, F401  (registers them)
