"""Commits, credits and their balances at customer level (reference 3.8): validate, call one
service or selector, answer."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import money
from catalog.models import PricingUnit
from core.api import (
    api_field_names,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    keyset_page_union,
    page_schema,
    parse_limit,
    request_body,
    validated,
)
from core.exceptions import Conflict
from customers import selectors, services
from customers.models import QUANTITY_CREDIT_TYPE_ID, Commit, Contract, Credit, Customer

# A balance's amount left counts what the live drafts draw (Metronome's `balance`): invoicing's.
from invoicing import selectors as invoicing_selectors

from . import presenters as out
from . import serializers as s
from . import terms

DEFAULT_LIMIT = 25
FIELDS = {
    "customer": "customer_id",
    "product": "product_id",
    "credit_type": "access_schedule.credit_type_id",
    "invoice_contract": "invoice_contract_id",
}


def _customer(value) -> Customer:
    return get_or_404(selectors.customers_queryset(), value, field="customer_id", label="Customer")


def _customer_contract(customer: Customer, value, field: str) -> Contract:
    return get_or_404(
        Contract.objects.filter(customer=customer), value, field=field, label="Contract"
    )


def _key_unused(customer: Customer, key: str | None) -> None:
    """A uniqueness key names one commit or credit of the customer (reference 2.12: 409)."""
    ensure_unused_uniqueness_key(Commit.objects.filter(customer=customer), key, what="commit")
    ensure_unused_uniqueness_key(Credit.objects.filter(customer=customer), key, what="credit")


def _applicable(customer: Customer, data: dict) -> list[Contract]:
    return [
        _customer_contract(customer, pk, "applicable_contract_ids")
        for pk in data.get("applicable_contract_ids", [])
    ]


def _created(customer: Customer, data: dict, create, what: str):
    """Run `create` with 409 for a reused key, including the loser of a race on it."""
    try:
        with transaction.atomic():
            _key_unused(customer, data.get("uniqueness_key"))
            with api_field_names(FIELDS):
                return create()
    except IntegrityError:
        if data.get("uniqueness_key"):
            raise Conflict(f"uniqueness_key: was already used to create a {what}.") from None
        raise


class CustomerCommitCreateView(APIView):
    @extend_schema(
        operation_id="v1_customers_commits_create",
        tags=["Commits and credits"],
        request=s.CustomerCommitCreateIn,
        responses={
            200: id_schema("CustomerCommitCreateResponse"),
            **error_responses(400, 404, 409),
        },
    )
    def post(self, request):
        data = validated(s.CustomerCommitCreateIn, request_body(request))
        customer = _customer(data["customer_id"])
        spec = terms.customer_commit(data)
        invoice_contract = (
            _customer_contract(customer, data["invoice_contract_id"], "invoice_contract_id")
            if data.get("invoice_contract_id")
            else None
        )
        applicable = _applicable(customer, data)
        commit = _created(
            customer,
            data,
            lambda: services.customer_commit_create(
                customer=customer,
                spec=spec,
                now=timezone.now(),
                applicable_contracts=applicable,
                invoice_contract=invoice_contract,
                uniqueness_key=data.get("uniqueness_key"),
            ),
            "commit",
        )
        return id_envelope(commit)


class CustomerCreditCreateView(APIView):
    @extend_schema(
        operation_id="v1_customers_credits_create",
        tags=["Commits and credits"],
        request=s.CustomerCreditCreateIn,
        responses={
            200: id_schema("CustomerCreditCreateResponse"),
            **error_responses(400, 404, 409),
        },
    )
    def post(self, request):
        data = validated(s.CustomerCreditCreateIn, request_body(request))
        customer = _customer(data["customer_id"])
        spec = terms.customer_credit(data)
        applicable = _applicable(customer, data)
        credit = _created(
            customer,
            data,
            lambda: services.customer_credit_create(
                customer=customer,
                spec=spec,
                now=timezone.now(),
                applicable_contracts=applicable,
                uniqueness_key=data.get("uniqueness_key"),
            ),
            "credit",
        )
        return id_envelope(credit)


def _present(rows, data: dict) -> list[dict]:
    now = timezone.now()
    balances = (
        invoicing_selectors.balances_now(balances=rows, now=now)
        if data["include_balance"]
        else None
    )
    ledgers = (
        {row.pk: selectors.balance_ledger(balance=row) for row in rows}
        if data["include_ledgers"]
        else None
    )
    extras = out.balance_extras(balances=balances, ledgers=ledgers)
    return [out.customer_balance_json(row, extras) for row in rows]


def _balances_page(body: dict, data: dict, querysets: list) -> Response:
    limit = parse_limit(body.get("limit"), default=DEFAULT_LIMIT)
    rows, cursor = keyset_page_union(
        querysets, limit=limit, cursor=data.get("next_page") or None, cursor_field="next_page"
    )
    return Response({"data": _present(rows, data), "next_page": cursor})


def _list_filters(data: dict) -> dict:
    return {
        "include_archived": data["include_archived"],
        "covering_date": data.get("covering_date"),
        "starting_at": data.get("starting_at"),
        "effective_before": data.get("effective_before"),
        "access_type": data.get("access_type"),
    }


class CustomerCommitListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_customers_commits_list",
        tags=["Commits and credits"],
        request=s.CustomerCommitListIn,
        responses={
            200: page_schema("CustomerCommitListResponse", s.CustomerCommitOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(s.CustomerCommitListIn, body)
        customer = _customer(data["customer_id"])
        querysets = selectors.customer_balances(
            customer=customer,
            kinds=("commit",),
            include_contract_balances=data["include_contract_commits"],
            balance_id=data.get("commit_id"),
            **_list_filters(data),
        )
        return _balances_page(body, data, list(querysets.values()))


class CustomerCreditListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_customers_credits_list",
        tags=["Commits and credits"],
        request=s.CustomerCreditListIn,
        responses={
            200: page_schema("CustomerCreditListResponse", s.CustomerCreditOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(s.CustomerCreditListIn, body)
        customer = _customer(data["customer_id"])
        querysets = selectors.customer_balances(
            customer=customer,
            kinds=("credit",),
            include_contract_balances=data["include_contract_credits"],
            balance_id=data.get("credit_id"),
            **_list_filters(data),
        )
        return _balances_page(body, data, list(querysets.values()))


class CustomerBalanceListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_list_balances",
        tags=["Commits and credits"],
        request=s.CustomerBalanceListIn,
        responses={
            200: page_schema("ContractListBalancesResponse", s.CustomerCommitOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(s.CustomerBalanceListIn, body)
        customer = _customer(data["customer_id"])
        querysets = selectors.customer_balances(
            customer=customer,
            include_contract_balances=data["include_contract_balances"],
            balance_id=data.get("id"),
            **_list_filters(data),
        )
        if data["exclude_zero_balances"]:
            now = timezone.now()
            for kind, queryset in querysets.items():
                held = invoicing_selectors.balances_now(balances=queryset, now=now)
                querysets[kind] = queryset.filter(pk__in=[pk for pk, v in held.items() if v])
        return _balances_page(body, data, list(querysets.values()))


def _matches(term, filters: list[dict]) -> bool:
    """Balance filters are OR'd; inside one, every given condition must hold."""
    if not filters:
        return True
    kind = "CREDIT" if isinstance(term, Credit) else f"{term.type}_COMMIT"
    for spec in filters:
        if spec.get("balance_types") and kind not in spec["balance_types"]:
            continue
        if spec.get("ids") and term.pk not in spec["ids"]:
            continue
        if spec.get("custom_fields"):
            continue  # commits and credits carry no custom fields here: nothing matches
        return True
    return False


class NetBalanceView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_get_net_balance",
        tags=["Commits and credits"],
        request=s.NetBalanceIn,
        responses={
            200: data_schema("ContractGetNetBalanceResponse", s.NetBalanceOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.NetBalanceIn, request_body(request))
        customer = _customer(data["customer_id"])
        access_type = data.get("access_type", Commit.AccessType.SPEND)
        querysets = selectors.customer_balances(
            customer=customer, include_contract_balances=True, access_type=access_type
        )
        if access_type == Commit.AccessType.QUANTITY:
            # Units of usage products, in no pricing unit: Metronome's null credit type id.
            unit_id = QUANTITY_CREDIT_TYPE_ID
        else:
            unit = get_or_404(
                PricingUnit,
                data.get("credit_type_id") or money.USD_CENTS_ID,
                field="credit_type_id",
                label="Pricing unit",
            )
            querysets = {kind: qs.filter(credit_type=unit) for kind, qs in querysets.items()}
            unit_id = str(unit.pk)
        terms_ = [
            term
            for queryset in querysets.values()
            for term in queryset
            if _matches(term, data.get("filters", []))
        ]
        held = invoicing_selectors.balances_now(
            balances=terms_,
            now=timezone.now(),
            include_drafts=data.get("invoice_inclusion_mode") == "FINALIZED_AND_DRAFT",
        )
        total = sum(held.values(), Decimal(0))
        return envelope({"balance": money.to_json_number(total), "credit_type_id": unit_id})


class ManualBalanceEntryView(APIView):
    @extend_schema(
        operation_id="v1_contracts_add_manual_balance_entry",
        tags=["Commits and credits"],
        request=s.ManualBalanceEntryIn,
        responses={200: OpenApiResponse(description="Empty."), **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(s.ManualBalanceEntryIn, request_body(request))
        customer = _customer(data["customer_id"])
        contract = (
            _customer_contract(customer, data["contract_id"], "contract_id")
            if data.get("contract_id")
            else None
        )
        owned = {"customer": customer} | ({"contract": contract} if contract else {})
        term = Commit.objects.filter(**owned, pk=data["id"]).first() or get_or_404(
            Credit.objects.filter(**owned), data["id"], field="id", label="Commit or credit"
        )
        get_or_404(
            term.access_schedule.all(), data["segment_id"], field="segment_id", label="Segment"
        )
        with api_field_names():
            try:
                services.balance_manual_entry_add(
                    balance_id=term.pk,
                    segment_id=data["segment_id"],
                    amount=data["amount"],
                    reason=data["reason"],
                    customer=customer,
                    contract=contract,
                    timestamp=data.get("timestamp"),
                    uniqueness_key=data.get("uniqueness_key"),
                    per_group_amounts=data.get("per_group_amounts"),
                    now=timezone.now(),
                )
            except services.BalanceKeyInUse:
                raise Conflict(
                    f"uniqueness_key: '{data['uniqueness_key']}' was already used for a ledger"
                    " entry."
                ) from None
        return Response({})
