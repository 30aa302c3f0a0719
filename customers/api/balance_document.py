"""A commit or credit typed in the admin, checked as the API checks one in a contract create
request (`commits[]`, `credits[]`): by the request serializer, the ids it names and the rules of
its access type (a QUANTITY balance holds units of named usage products, in the contract's
currency, at list rate, prepaid). The admin's commit and credit forms call `balance_check`, so
both refuse the same things, named by the API's fields (`customers.forms` puts each on its form
field). Its access segments are typed as rows beside it, each checked by its own form and model
(`AccessSegment.clean`), so the serializer here takes the access schedule without them."""

from __future__ import annotations

from core.api import api_field_names, validated
from customers import services

from . import serializers as s
from . import terms


class _AccessIn(s.AccessScheduleIn):
    schedule_items = None  # typed as rows, each checked by its own form


class _CommitIn(s.CommitIn):
    access_schedule = _AccessIn()


class _CreditIn(s.CreditIn):
    access_schedule = _AccessIn()


def balance_check(*, kind: str, body: dict) -> None:
    """Raise DRF's ValidationError (a 400's detail, by API field) when the API would refuse the
    commit (`kind` "commit") or credit `body`, in the API's request shape."""
    data = validated(_CommitIn if kind == "commit" else _CreditIn, body)
    access = {**data["access_schedule"], "schedule_items": []}
    spec = services.CreditSpec(**terms._balance({**data, "access_schedule": access}, ""))
    if spec.access_type == "QUANTITY":
        with api_field_names():
            services.quantity_balance_check(spec, "", postpaid=data.get("type") == "POSTPAID")
