"""Contract changes over time: a commit's or credit's end moved earlier, one commit or credit
edited (v2), a v1 amendment, a usage filter, and the edit history. Each calls one service;
invoicing's drafts follow through the outbox."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    StrictCharField,
    StringListField,
    StringMapField,
    TimestampField,
    UUIDStringField,
    api_field_names,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    request_body,
    validated,
)
from customers import selectors, services
from customers.models import Commit, Contract, ContractEdit, Credit

from . import more_terms, terms
from . import presenters as out
from . import serializers as s
from . import specifiers as commit_specifiers
from .views import CONTRACT_FIELDS, _contract, _customer, _unique_key_race, _who

BALANCE_FIELDS = {"product": "product_id", "invoice_contract": "invoice_contract_id"}


def _balance(model, data: dict, field: str):
    customer = _customer(data["customer_id"])
    label = "Commit" if model is Commit else "Credit"
    return get_or_404(
        model.objects.filter(customer=customer), data[field], field=field, label=label
    )


# --- End dates ---------------------------------------------------------------------------------------


class CommitEndDateIn(serializers.Serializer):
    commit_id = UUIDStringField()
    customer_id = UUIDStringField()
    access_ending_before = TimestampField(required=False)
    invoices_ending_before = TimestampField(required=False)


class CreditEndDateIn(serializers.Serializer):
    credit_id = UUIDStringField()
    customer_id = UUIDStringField()
    access_ending_before = TimestampField()


class CommitUpdateEndDateView(APIView):
    @extend_schema(
        operation_id="v1_customers_commits_update_end_date",
        tags=["Commits and credits"],
        request=CommitEndDateIn,
        responses={200: id_schema("CommitUpdateEndDateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(CommitEndDateIn, request_body(request))
        commit = _balance(Commit, data, "commit_id")
        with api_field_names(BALANCE_FIELDS):
            services.balance_update_end_date(
                balance=commit,
                now=timezone.now(),
                access_ending_before=data.get("access_ending_before"),
                invoices_ending_before=data.get("invoices_ending_before"),
                created_by=_who(request),
            )
        return id_envelope(commit)


class CreditUpdateEndDateView(APIView):
    @extend_schema(
        operation_id="v1_customers_credits_update_end_date",
        tags=["Commits and credits"],
        request=CreditEndDateIn,
        responses={200: id_schema("CreditUpdateEndDateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(CreditEndDateIn, request_body(request))
        credit = _balance(Credit, data, "credit_id")
        with api_field_names(BALANCE_FIELDS):
            services.balance_update_end_date(
                balance=credit,
                now=timezone.now(),
                access_ending_before=data["access_ending_before"],
                created_by=_who(request),
            )
        return id_envelope(credit)


# --- One commit or credit edited (v2) ----------------------------------------------------------------


class _BalanceEditIn(s.BalanceUpdateIn):
    customer_id = UUIDStringField()
    applicable_contract_ids = serializers.ListField(
        child=UUIDStringField(), required=False, allow_null=True
    )
    specifiers = commit_specifiers.specifiers_field(allow_null=True)


class CommitEditIn(_BalanceEditIn):
    commit_id = UUIDStringField()
    invoice_contract_id = UUIDStringField(required=False)
    invoice_schedule = s.InvoiceScheduleEditIn(required=False)


class CreditEditIn(_BalanceEditIn):
    credit_id = UUIDStringField()


def _edit(request, model, serializer, id_field: str) -> Response:
    data = validated(serializer, request_body(request))
    balance = _balance(model, data, id_field)
    customer = balance.customer
    update = terms.balance_update(data, "", id_field)
    contracts = None
    if "applicable_contract_ids" in data:
        contracts = [
            get_or_404(
                Contract.objects.filter(customer=customer),
                pk,
                field="applicable_contract_ids",
                label="Contract",
            )
            for pk in data["applicable_contract_ids"] or []
        ]
    invoice_contract = services.UNCHANGED
    if data.get("invoice_contract_id"):
        invoice_contract = get_or_404(
            Contract.objects.filter(customer=customer),
            data["invoice_contract_id"],
            field="invoice_contract_id",
            label="Contract",
        )
    with api_field_names(BALANCE_FIELDS):
        services.balance_edit(
            balance=balance,
            update=update,
            now=timezone.now(),
            applicable_contracts=contracts,
            invoice_contract=invoice_contract,
            created_by=_who(request),
        )
    return id_envelope(balance)


class CommitEditView(APIView):
    @extend_schema(
        operation_id="v2_contracts_edit_commit",
        tags=["Commits and credits"],
        request=CommitEditIn,
        responses={200: id_schema("ContractEditCommitResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        return _edit(request, Commit, CommitEditIn, "commit_id")


class CreditEditView(APIView):
    @extend_schema(
        operation_id="v2_contracts_edit_credit",
        tags=["Commits and credits"],
        request=CreditEditIn,
        responses={200: id_schema("ContractEditCreditResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        return _edit(request, Credit, CreditEditIn, "credit_id")


# --- Amendments (v1) ---------------------------------------------------------------------------------


class AmendIn(s.ContractRefIn):
    starting_at = TimestampField()
    commits = s.CommitIn(many=True, required=False)
    credits = s.CreditIn(many=True, required=False)
    overrides = s.OverrideIn(many=True, required=False)
    scheduled_charges = s.ScheduledChargeIn(many=True, required=False)
    custom_fields = StringMapField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False)
    salesforce_opportunity_id = StrictCharField(required=False)
    total_contract_value = serializers.JSONField(required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    reseller_royalties = more_terms.ResellerRoyaltyIn(many=True, required=False)


class ContractAmendView(APIView):
    @extend_schema(
        operation_id="v1_contracts_amend",
        tags=["Contracts"],
        request=AmendIn,
        responses={200: id_schema("ContractAmendResponse"), **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(AmendIn, request_body(request))
        contract = _contract(data)
        with transaction.atomic(), _unique_key_race("contract amendment"):
            ensure_unused_uniqueness_key(
                ContractEdit.objects.all(), data.get("uniqueness_key"), what="contract amendment"
            )
            specs = {
                "commits": terms.commits(data.get("commits", [])),
                "credits": terms.credits(data.get("credits", [])),
                "overrides": terms.overrides(data.get("overrides", [])),
                "scheduled_charges": terms.scheduled_charges(data.get("scheduled_charges", [])),
            }
            with api_field_names(CONTRACT_FIELDS):
                edit = services.contract_amend(
                    contract=contract,
                    starting_at=data["starting_at"],
                    now=timezone.now(),
                    custom_fields=data.get("custom_fields"),
                    created_by=_who(request),
                    reseller_royalties=more_terms.reseller_royalties(
                        data.get("reseller_royalties", []), "reseller_royalties"
                    ),
                    **specs,
                )
            if data.get("uniqueness_key"):
                edit.uniqueness_key = data["uniqueness_key"]
                edit.save(update_fields=["uniqueness_key"])
        return id_envelope(edit)


# --- Usage filter ------------------------------------------------------------------------------------


class UsageFilterIn(s.ContractRefIn):
    group_key = StrictCharField(max_length=200)
    group_values = StringListField()
    starting_at = TimestampField()


class ContractSetUsageFilterView(APIView):
    @extend_schema(
        operation_id="v1_contracts_set_usage_filter",
        tags=["Contracts"],
        request=UsageFilterIn,
        responses={
            200: OpenApiResponse(description="Done (empty body)."),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(UsageFilterIn, request_body(request))
        contract = _contract(data)
        with api_field_names(CONTRACT_FIELDS):
            services.contract_usage_filter_set(
                contract=contract,
                group_key=data["group_key"],
                group_values=data["group_values"],
                starting_at=data["starting_at"],
                now=timezone.now(),
                created_by=_who(request),
            )
        return Response(status=200)


# --- Edit history ------------------------------------------------------------------------------------


class EditHistoryView(APIView):
    @extend_schema(
        operation_id="v2_contracts_get_edit_history",
        tags=["Contracts"],
        request=s.ContractRefIn,
        responses={
            200: data_schema("ContractGetEditHistoryResponse", s.EditOut(many=True)),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.ContractRefIn, request_body(request))
        contract = _contract(data)
        return envelope(
            [
                out.edit_history_json(edit, contract)
                for edit in selectors.contract_edits(contract=contract)
            ]
        )
