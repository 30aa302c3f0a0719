"""A package's terms as the package stores them (API names, ids as strings), checked as
`/v1/packages/create` checks them: by the request serializer, the products each term names, and
the contract terms other apps registered (`catalog.api.package_terms`). The admin's package form
checks its terms JSON through `package_terms_document`, so both refuse the same things, by
field."""

from __future__ import annotations

from rest_framework import exceptions

from catalog.models import Product, RateCard
from core.api import get_or_404, validated

from . import package_terms as registry
from . import serializers as s

# The keys of a package's terms document (everything in a package create request but the
# package's own fields).
TERM_KEYS = (
    "commits",
    "credits",
    "overrides",
    "scheduled_charges",
    "subscriptions",
    *s.UNSUPPORTED_TERMS,
    "scheduled_charges_on_usage_invoices",
)


def package_terms(data: dict, rate_card: RateCard) -> dict:
    """The package document as stored: API names, ids as strings (products checked here; the
    contract terms of other apps by what they registered in catalog.api.package_terms)."""
    terms: dict = {}
    for key in ("commits", "credits", "overrides", "scheduled_charges", "subscriptions"):
        if data.get(key):
            terms[key] = [dict(item) for item in data[key]]
    registered = registry.registered()
    for key in ("commits", "credits"):
        for index, term in enumerate(terms.get(key, [])):
            if term.get("specifiers"):
                term["specifiers"] = registered["specifiers"].check(
                    term, rate_card=rate_card, where=f"{key}[{index}]"
                )
            # The term's own rules as a contract's (a QUANTITY balance's, its products).
            registered["commit_or_credit"].check(term, rate_card=rate_card, where=f"{key}[{index}]")
    for key, schedule in (("commits", "invoice_schedule"), ("scheduled_charges", "schedule")):
        for index, term in enumerate(terms.get(key, [])):
            given = dict(term.get(schedule) or {})
            if given.get("recurring_schedule"):
                given["recurring_schedule"] = registered["recurring_schedule"].check(
                    given["recurring_schedule"],
                    rate_card=rate_card,
                    where=f"{key}[{index}].{schedule}.recurring_schedule",
                )
                term[schedule] = given
    for key in s.REGISTERED_PACKAGE_TERMS:
        if data.get(key):
            terms[key] = registered[key].check(
                data[key], rate_card=rate_card, where=key, package=data
            )
    if data.get("scheduled_charges_on_usage_invoices"):
        terms["scheduled_charges_on_usage_invoices"] = data["scheduled_charges_on_usage_invoices"]
    for term in terms.get("commits", []) + terms.get("credits", []):
        _check_product(term["product_id"], "FIXED", "Commits and credits use a fixed product.")
    for term in terms.get("scheduled_charges", []):
        _check_product(term["product_id"], "FIXED", "Scheduled charges use a fixed product.")
    for term in terms.get("subscriptions", []):
        _check_product(
            term["subscription_rate"]["product_id"],
            "SUBSCRIPTION",
            "Subscriptions use a subscription product.",
        )
    for term in terms.get("overrides", []):
        for spec in term.get("override_specifiers", []):
            if spec.get("product_id"):
                get_or_404(Product, spec["product_id"], field="product_id", label="Product")
    return terms


def _check_product(pk, product_type: str, message: str) -> None:
    product = get_or_404(Product, pk, field="product_id", label="Product")
    if product.type != product_type:
        raise exceptions.ValidationError({"product_id": message})


def package_terms_document(terms: dict, rate_card: RateCard) -> dict:
    """A terms document typed in the admin, checked as the API checks a package create request
    with those terms (the same errors, named by field); returns the document as stored."""
    if not isinstance(terms, dict):
        raise exceptions.ValidationError("Give the terms as a JSON object.")
    unknown = sorted(set(terms) - set(TERM_KEYS))
    if unknown:
        raise exceptions.ValidationError(
            {unknown[0]: f"Not a package term (one of {', '.join(TERM_KEYS)})."}
        )
    data = validated(
        s.PackageCreateIn, {"name": "package", "rate_card_id": str(rate_card.pk), **terms}
    )
    return package_terms(data, rate_card)
