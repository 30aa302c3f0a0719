"""Customers' and contracts' Metronome-compatible endpoints: validate, call one service, answer."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors as catalog_selectors
from catalog.api.presenters import customer_billable_metric_json
from catalog.api.serializers import CustomerBillableMetricOut
from catalog.models import Package, RateCard
from core.api import (
    api_field_names,
    body_cursor_page,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    page_parameters,
    page_schema,
    query_cursor_page,
    request_body,
    validated,
)
from core.exceptions import Conflict
from customers import selectors, services
from customers.filters import CustomerFilter
from customers.models import Contract, ContractEdit, Customer

# A balance left counts what the live drafts draw (Metronome's `balance`): invoicing's selector.
from invoicing import selectors as invoicing_selectors

from . import configurations as configurations_api
from . import hierarchy, more_terms, term_edits, terms
from . import presenters as out
from . import serializers as s
from . import spend_trackers as spend_trackers_api

CONTRACT_FIELDS = {
    "customer": "customer_id",
    "rate_card": "rate_card_id",
    "package": "package_id",
    "usage_statement_frequency": "usage_statement_schedule.frequency",
    "usage_statement_day": "usage_statement_schedule.day",
    "billing_anchor_date": "usage_statement_schedule.billing_anchor_date",
    "product": "product_id",
    "credit_type": "credit_type_id",
    "overwrite_credit_type": "overwrite_rate.credit_type_id",
    "overwrite_price": "overwrite_rate.price",
    "overwrite_rate_type": "overwrite_rate.rate_type",
    "access_rounding_places": "proration_rounding.access.decimal_places",
    "access_rounding_method": "proration_rounding.access.rounding_method",
    "invoice_rounding_places": "proration_rounding.invoice.decimal_places",
    "invoice_rounding_method": "proration_rounding.invoice.rounding_method",
    "parent_contract": "hierarchy_configuration.parent.contract_id",
    "hierarchy_payer": "hierarchy_configuration.payer",
    "hierarchy_usage_statement_behavior": "hierarchy_configuration.usage_statement_behavior",
    "invoice_consolidation_type": "hierarchy_configuration.parent_behavior.invoice_consolidation_type",
}


def _gated(items: list[dict], customer) -> list[services.CommitSpec]:
    """A v2 edit's add_commits, each with its payment gate when it has one."""
    specs = terms.commits(items, "add_commits")
    for index, item in enumerate(items):
        if item.get("payment_gate_config"):
            config = more_terms.payment_gate_config(
                item["payment_gate_config"], f"add_commits[{index}]", customer
            )
            gate = services.GateSpec.from_config(config)
            specs[index] = dataclasses.replace(specs[index], payment_gate=gate)
    return specs


def _who(request) -> str:
    return str(request.user)


def _customer(value, field: str = "customer_id") -> Customer:
    return get_or_404(selectors.customers_queryset(), value, field=field, label="Customer")


def _contract(data: dict) -> Contract:
    customer = _customer(data["customer_id"])
    return get_or_404(
        selectors.contracts_queryset().filter(customer=customer),
        data["contract_id"],
        field="contract_id",
        label="Contract",
    )


@contextmanager
def _unique_key_race(what: str):
    """Two requests with one uniqueness_key at once: the loser gets the same 409."""
    try:
        yield
    except IntegrityError as exc:
        if "uniqueness_key" in str(exc) or "unique" in str(exc).lower():
            raise Conflict(f"uniqueness_key: was already used to create a {what}.") from None
        raise


@contextmanager
def _alias_conflict():
    """An alias owned by another customer will stay taken: 409, not worth retrying."""
    try:
        yield
    except services.IngestAliasInUse as exc:
        raise Conflict(exc.messages[0]) from None


# --- Customers -------------------------------------------------------------------------------------------


class CustomerCollectionView(APIView):
    @extend_schema(
        operation_id="v1_customers_list",
        tags=["Customers"],
        parameters=[
            OpenApiParameter("customer_ids", str, description="Comma-separated customer ids."),
            OpenApiParameter("ingest_alias", str, description="The customer with this alias."),
            OpenApiParameter("only_archived", bool, description="List archived customers only."),
            OpenApiParameter("salesforce_account_ids", str, description="Comma-separated."),
            *page_parameters(),
        ],
        responses={
            200: page_schema("CustomerListResponse", s.CustomerDetailOut()),
            **error_responses(400),
        },
    )
    def get(self, request):
        filterset = CustomerFilter(request.query_params, selectors.customers_queryset())
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return query_cursor_page(
            request,
            filterset.qs.distinct(),
            lambda rows: [out.customer_detail_json(c) for c in rows],
        )

    @extend_schema(
        operation_id="v1_customers_create",
        tags=["Customers"],
        request=s.CustomerCreateIn,
        responses={
            200: data_schema("CustomerCreateResponse", s.CustomerOut()),
            **error_responses(400, 409),
        },
    )
    def post(self, request):
        data = validated(s.CustomerCreateIn, request_body(request))
        with transaction.atomic(), api_field_names(), _alias_conflict():
            customer = services.customer_create(
                name=data["name"][:160],
                ingest_aliases=data.get("ingest_aliases", []),
                external_id=data.get("external_id", ""),
                custom_fields=data.get("custom_fields"),
            )
            configurations_api.customer_configurations_create(
                customer, data.get("customer_revenue_system_configurations", []), timezone.now()
            )
        return envelope(out.customer_json(customer))


class CustomerDetailView(APIView):
    @extend_schema(
        operation_id="v1_customers_retrieve",
        tags=["Customers"],
        responses={
            200: data_schema("CustomerRetrieveResponse", s.CustomerDetailOut()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str):
        customer = _customer(customer_id)
        return envelope(
            out.customer_detail_json(customer)
            | {
                "customer_revenue_system_configurations": (
                    configurations_api.customer_revenue_systems_json(customer)
                )
            }
        )


class CustomerArchiveView(APIView):
    @extend_schema(
        operation_id="v1_customers_archive",
        tags=["Customers"],
        request=s.IdRefIn,
        responses={200: id_schema("CustomerArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.IdRefIn, request_body(request))
        customer = _customer(data["id"], field="id")
        with api_field_names():
            services.customer_archive(customer=customer, now=timezone.now())
        return id_envelope(customer)


class CustomerSetIngestAliasesView(APIView):
    @extend_schema(
        operation_id="v1_customers_set_ingest_aliases",
        tags=["Customers"],
        request=s.CustomerSetIngestAliasesIn,
        responses={
            200: OpenApiResponse(description="The aliases were replaced (empty body)."),
            **error_responses(400, 404, 409),
        },
    )
    def post(self, request, customer_id: str):
        customer = _customer(customer_id)
        data = validated(s.CustomerSetIngestAliasesIn, request_body(request))
        with api_field_names(), _alias_conflict():
            services.customer_set_ingest_aliases(
                customer=customer, ingest_aliases=data["ingest_aliases"]
            )
        return Response(status=200)


class CustomerSetNameView(APIView):
    @extend_schema(
        operation_id="v1_customers_set_name",
        tags=["Customers"],
        request=s.CustomerSetNameIn,
        responses={
            200: data_schema("CustomerSetNameResponse", s.CustomerOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request, customer_id: str):
        customer = _customer(customer_id)
        data = validated(s.CustomerSetNameIn, request_body(request))
        with api_field_names():
            services.customer_set_name(customer=customer, name=data["name"][:160])
        return envelope(out.customer_json(customer))


class CustomerBillableMetricsView(APIView):
    @extend_schema(
        operation_id="v1_customers_list_billable_metrics",
        tags=["Customers"],
        parameters=[
            OpenApiParameter("include_archived", bool, description="Also archived metrics."),
            OpenApiParameter("on_current_plan", bool, description="Accepted; always true here."),
            *page_parameters(),
        ],
        responses={
            200: page_schema("CustomerListBillableMetricsResponse", CustomerBillableMetricOut()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str):
        customer = _customer(customer_id)
        include_archived = request.query_params.get("include_archived", "").lower() == "true"
        return query_cursor_page(
            request,
            selectors.customer_billable_metrics(
                customer=customer, include_archived=include_archived
            ),
            lambda rows: [customer_billable_metric_json(m) for m in rows],
        )


# --- Contracts -------------------------------------------------------------------------------------------


def _rate_card(data: dict, now) -> RateCard:
    if data.get("rate_card_id"):
        return get_or_404(RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card")
    rate_card = catalog_selectors.rate_card_by_alias(alias=data["rate_card_alias"], at=now)
    if rate_card is None:
        raise exceptions.NotFound(f"No rate card has the alias '{data['rate_card_alias']}'.")
    return rate_card


def _package(data: dict) -> Package:
    if data.get("package_id"):
        return get_or_404(Package, data["package_id"], field="package_id", label="Package")
    # Packages are few and their aliases live in a JSON list: look them up in Python.
    package = next(
        (
            p
            for p in Package.objects.active()
            if any(a.get("name") == data["package_alias"] for a in p.aliases or [])
        ),
        None,
    )
    if package is None:
        raise exceptions.NotFound(f"No package has the alias '{data['package_alias']}'.")
    return package


def _transition(data: dict) -> services.TransitionSpec | None:
    transition = data.get("transition")
    if not transition:
        return None
    behavior = transition.get("future_invoice_behavior") or {}
    return services.TransitionSpec(
        from_contract_id=transition["from_contract_id"],
        type=transition["type"],
        future_invoice_trueup=behavior.get("trueup") or "",
    )


def _billing_configuration(data: dict, customer: Customer):
    """The contract's `billing_provider_configuration`: by id, or the one active configuration of
    the customer with that provider and delivery method."""
    given = data.get("billing_provider_configuration")
    if not given:
        return None
    field = "billing_provider_configuration"
    configs = selectors.customer_billing_configurations(customer=customer)
    if given.get("billing_provider_configuration_id"):
        pk = given["billing_provider_configuration_id"]
        config = configs.filter(pk=pk).first()
        if config is None:
            raise exceptions.NotFound(
                f"Billing provider configuration {pk} not found among the active ones of "
                f"customer {customer.pk}."
            )
        return config
    provider = given.get("billing_provider")
    if provider is None:
        raise exceptions.ValidationError({f"{field}.billing_provider": "This field is required."})
    method = given.get("delivery_method") or "direct_to_billing_provider"
    matches = list(configs.filter(billing_provider=provider, delivery_method=method)[:2])
    if not matches:
        raise exceptions.ValidationError(
            {
                field: f"Customer {customer.pk} has no active {provider} configuration delivered "
                f"by {method} (set one with setCustomerBillingProviderConfigurations)."
            }
        )
    if len(matches) > 1:
        raise exceptions.ValidationError(
            {
                field: f"Customer {customer.pk} has several active {provider} configurations: "
                "give billing_provider_configuration_id."
            }
        )
    return matches[0]


def _package_schedule(package: Package, schedule: dict | None):
    """A contract from a package sets no usage statement schedule of its own: what it sends must
    be the package's; it only gives the billing_anchor_date of a CUSTOM_DATE package."""
    if schedule is None:
        return None
    for key, value in (
        ("frequency", package.usage_statement_frequency),
        ("day", package.usage_statement_day),
    ):
        if key in schedule and schedule[key] != value:
            raise exceptions.ValidationError(
                {f"usage_statement_schedule.{key}": f"The package sets it ({value})."}
            )
    return schedule.get("billing_anchor_date")


class ContractCreateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_create",
        tags=["Contracts"],
        request=s.ContractCreateIn,
        responses={200: id_schema("ContractCreateResponse"), **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(s.ContractCreateIn, request_body(request))
        now = timezone.now()
        customer = _customer(data["customer_id"])
        billing_configuration = _billing_configuration(data, customer)
        revenue_system = configurations_api.revenue_system_configuration(
            data.get("revenue_system_configuration"), customer, "revenue_system_configuration"
        )
        with transaction.atomic(), _unique_key_race("contract"):
            ensure_unused_uniqueness_key(
                Contract.objects.all(), data.get("uniqueness_key"), what="contract"
            )
            if data.get("package_id") or data.get("package_alias"):
                package = _package(data)
                anchor = _package_schedule(package, data.get("usage_statement_schedule"))
                with api_field_names(CONTRACT_FIELDS):
                    contract = services.contract_create_from_package(
                        customer=customer,
                        package=package,
                        starting_at=data["starting_at"],
                        now=now,
                        uniqueness_key=data.get("uniqueness_key"),
                        custom_fields=data.get("custom_fields"),
                        created_by=_who(request),
                        transition=_transition(data),
                        billing_provider_configuration=billing_configuration,
                        billing_anchor_date=anchor,
                        revenue_system_configuration=revenue_system,
                        hierarchy=hierarchy.hierarchy_spec(data),
                    )
                return id_envelope(contract)
            schedule = data.get("usage_statement_schedule") or {}
            rate_card = _rate_card(data, now)
            specs = {
                "commits": terms.commits(data.get("commits", [])),
                "credits": terms.credits(data.get("credits", [])),
                "overrides": terms.overrides(data.get("overrides", [])),
                "scheduled_charges": terms.scheduled_charges(data.get("scheduled_charges", [])),
                "subscriptions": terms.subscriptions(data.get("subscriptions", [])),
                "discounts": terms.discounts(data.get("discounts", [])),
                "professional_services": terms.professional_services(
                    data.get("professional_services", [])
                ),
                "recurring_commits": more_terms.recurring(
                    data.get("recurring_commits", []), "COMMIT", "recurring_commits"
                ),
                "recurring_credits": more_terms.recurring(
                    data.get("recurring_credits", []), "CREDIT", "recurring_credits"
                ),
                "prepaid_balance_threshold_configuration": more_terms.threshold_config(
                    data.get("prepaid_balance_threshold_configuration"),
                    "prepaid_balance_threshold_configuration",
                    customer,
                    rate_card,
                ),
                "spend_threshold_configuration": more_terms.threshold_config(
                    data.get("spend_threshold_configuration"),
                    "spend_threshold_configuration",
                    customer,
                ),
            }
            with api_field_names(CONTRACT_FIELDS):
                contract = services.contract_create(
                    customer=customer,
                    rate_card=rate_card,
                    starting_at=data["starting_at"],
                    ending_before=data.get("ending_before"),
                    now=now,
                    name=data.get("name", ""),
                    usage_statement_frequency=schedule.get("frequency", "MONTHLY"),
                    usage_statement_day=schedule.get("day", "FIRST_OF_MONTH"),
                    billing_anchor_date=schedule.get("billing_anchor_date")
                    if schedule.get("day") == "CUSTOM_DATE"
                    else None,
                    net_payment_terms_days=int(data.get("net_payment_terms_days", 30)),
                    multiplier_override_prioritization=data.get(
                        "multiplier_override_prioritization", "LOWEST_MULTIPLIER"
                    ),
                    scheduled_charges_on_usage_invoices=bool(
                        data.get("scheduled_charges_on_usage_invoices")
                    ),
                    uniqueness_key=data.get("uniqueness_key"),
                    custom_fields=data.get("custom_fields"),
                    created_by=_who(request),
                    transition=_transition(data),
                    usage_filter=data.get("usage_filter"),
                    billing_provider_configuration=billing_configuration,
                    revenue_system_configuration=revenue_system,
                    reseller_royalties=more_terms.reseller_royalties(
                        data.get("reseller_royalties", []), "reseller_royalties"
                    ),
                    hierarchy=hierarchy.hierarchy_spec(data),
                    **specs,
                )
                services.spend_trackers_add(
                    contract=contract,
                    specs=spend_trackers_api.specs(
                        data.get("spend_trackers", []), "spend_trackers"
                    ),
                    now=now,
                    prefix="spend_trackers",
                )
                services.spend_tracker_caps_check(contract=contract, where={})
        return id_envelope(contract)


def _balance_extras(contract: Contract, data: dict):
    """include_balance / include_ledgers: each commit's and credit's balance now and ledger."""
    if not (data.get("include_balance") or data.get("include_ledgers")):
        return None
    terms_ = [*contract.commits.all(), *contract.credits.all()]
    balances = (
        invoicing_selectors.balances_now(balances=terms_, now=timezone.now())
        if data.get("include_balance")
        else None
    )
    ledgers = (
        {term.pk: selectors.balance_ledger(balance=term) for term in terms_}
        if data.get("include_ledgers")
        else None
    )
    return out.balance_extras(balances=balances, ledgers=ledgers)


class ContractRetrieveView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_retrieve",
        tags=["Contracts"],
        request=s.ContractRetrieveIn,
        responses={
            200: data_schema("ContractRetrieveResponse", s.ContractV1Out()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.ContractRetrieveIn, request_body(request))
        contract = _contract(data)
        return envelope(out.contract_v1_json(contract, _balance_extras(contract, data)))


class ContractRetrieveV2View(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v2_contracts_retrieve",
        tags=["Contracts"],
        request=s.ContractRetrieveV2In,
        responses={
            200: data_schema("ContractV2RetrieveResponse", s.ContractV2Out()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.ContractRetrieveV2In, request_body(request))
        contract = _contract(data)
        return envelope(out.contract_v2_json(contract, _balance_extras(contract, data)))


def _contracts_page(request, present):
    body = request_body(request)
    data = validated(s.ContractListIn, body)
    customer = _customer(data["customer_id"])
    queryset = selectors.contracts_list(
        customer=customer,
        covering_date=data.get("covering_date"),
        starting_at=data.get("starting_at"),
        include_archived=data["include_archived"],
    )
    return body_cursor_page(
        body,
        queryset,
        lambda rows: [present(c) for c in rows],
        cursor_field="cursor",
        default_limit=20,
        max_limit=20,
    )


class ContractListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_list",
        tags=["Contracts"],
        request=s.ContractListIn,
        responses={
            200: page_schema("ContractListResponse", s.ContractV1Out(), cursor_field="cursor"),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        return _contracts_page(request, out.contract_v1_json)


class ContractListV2View(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v2_contracts_list",
        tags=["Contracts"],
        request=s.ContractListIn,
        responses={
            200: page_schema("ContractV2ListResponse", s.ContractV2Out(), cursor_field="cursor"),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        return _contracts_page(request, out.contract_v2_json)


class ContractArchiveView(APIView):
    @extend_schema(
        operation_id="v1_contracts_archive",
        tags=["Contracts"],
        request=s.ContractArchiveIn,
        responses={200: id_schema("ContractArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.ContractArchiveIn, request_body(request))
        contract = _contract(data)
        with api_field_names(CONTRACT_FIELDS):
            services.contract_archive(
                contract=contract, void_invoices=data["void_invoices"], now=timezone.now()
            )
        return id_envelope(contract)


class ContractUpdateEndDateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_update_end_date",
        tags=["Contracts"],
        request=s.ContractUpdateEndDateIn,
        responses={200: id_schema("ContractUpdateEndDateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.ContractUpdateEndDateIn, request_body(request))
        contract = _contract(data)
        with api_field_names(CONTRACT_FIELDS):
            services.contract_update_end_date(
                contract=contract, ending_before=data.get("ending_before"), now=timezone.now()
            )
        return id_envelope(contract)


class ContractEditView(APIView):
    @extend_schema(
        operation_id="v2_contracts_edit",
        tags=["Contracts"],
        request=term_edits.ContractEditIn,
        responses={
            200: data_schema("ContractEditResponse", s.ContractEditOut()),
            **error_responses(400, 404, 409),
        },
    )
    def post(self, request):
        data = validated(term_edits.ContractEditIn, request_body(request))
        contract = _contract(data)
        changes = {}
        if "update_contract_name" in data:
            changes["name"] = data["update_contract_name"]
        if "update_contract_end_date" in data:
            changes["ending_before"] = data["update_contract_end_date"]
        if data.get("update_net_payment_terms_days") is not None:
            changes["net_payment_terms_days"] = int(data["update_net_payment_terms_days"])
        with transaction.atomic(), _unique_key_race("contract edit"):
            ensure_unused_uniqueness_key(
                ContractEdit.objects.all(), data.get("uniqueness_key"), what="contract edit"
            )
            specs = {
                "add_commits": _gated(data.get("add_commits", []), contract.customer),
                "add_credits": terms.credits(data.get("add_credits", []), "add_credits"),
                "add_overrides": terms.overrides(data.get("add_overrides", []), "add_overrides"),
                "add_scheduled_charges": terms.scheduled_charges(
                    data.get("add_scheduled_charges", []), "add_scheduled_charges"
                ),
                "add_subscriptions": terms.subscriptions(
                    data.get("add_subscriptions", []), "add_subscriptions"
                ),
                "update_commits": terms.balance_updates(
                    data.get("update_commits", []), "update_commits", "commit_id"
                ),
                "update_credits": terms.balance_updates(
                    data.get("update_credits", []), "update_credits", "credit_id"
                ),
                "update_scheduled_charges": terms.scheduled_charge_updates(
                    data.get("update_scheduled_charges", [])
                ),
                "add_discounts": terms.discounts(data.get("add_discounts", []), "add_discounts"),
                "add_professional_services": terms.professional_services(
                    data.get("add_professional_services", []), "add_professional_services"
                ),
                "add_recurring_commits": more_terms.recurring(
                    data.get("add_recurring_commits", []), "COMMIT", "add_recurring_commits"
                ),
                "add_recurring_credits": more_terms.recurring(
                    data.get("add_recurring_credits", []), "CREDIT", "add_recurring_credits"
                ),
                "update_subscriptions": more_terms.subscription_updates(
                    data.get("update_subscriptions", [])
                ),
                "add_reseller_royalties": more_terms.reseller_royalties(
                    data.get("add_reseller_royalties", []), "add_reseller_royalties"
                ),
                **_thresholds(contract, data),
                **term_edits.edit_specs(data),
                "configuration_changes": configurations_api.configuration_changes(contract, data),
            }
            with api_field_names(CONTRACT_FIELDS):
                result = services.contract_edit(
                    contract=contract,
                    now=timezone.now(),
                    archive_commits=[t["id"] for t in data.get("archive_commits", [])],
                    archive_credits=[t["id"] for t in data.get("archive_credits", [])],
                    archive_scheduled_charges=[
                        t["id"] for t in data.get("archive_scheduled_charges", [])
                    ],
                    remove_overrides=[t["id"] for t in data.get("remove_overrides", [])],
                    uniqueness_key=data.get("uniqueness_key"),
                    created_by=_who(request),
                    **changes,
                    **specs,
                )
                _spend_trackers_edit(contract, data, timezone.now())
        return envelope({"id": str(contract.pk), "edit": out.edit_json(result, contract)})


def _spend_trackers_edit(contract: Contract, data: dict, now) -> None:
    """archive_spend_trackers, then add_spend_trackers (an alias archived may be added again),
    then the thresholds' discount caps checked against the trackers left."""
    contract.refresh_from_db()
    services.spend_trackers_archive(
        contract=contract,
        aliases=data.get("archive_spend_trackers", []),
        now=now,
        prefix="archive_spend_trackers",
    )
    services.spend_trackers_add(
        contract=contract,
        specs=spend_trackers_api.specs(data.get("add_spend_trackers", []), "add_spend_trackers"),
        now=now,
        prefix="add_spend_trackers",
    )
    services.spend_tracker_caps_check(
        contract=contract,
        where={
            name: f"add_{name}" if f"add_{name}" in data else f"update_{name}"
            for name in ("prepaid_balance_threshold_configuration", "spend_threshold_configuration")
        },
    )


def _thresholds(contract: Contract, data: dict) -> dict:
    """add_* / update_* threshold configurations of an edit, as the service's arguments."""
    changes = {}
    for name in ("prepaid_balance_threshold_configuration", "spend_threshold_configuration"):
        if f"add_{name}" in data:
            changes[name] = more_terms.threshold_config(
                data[f"add_{name}"], f"add_{name}", contract.customer, contract.rate_card
            )
        elif f"update_{name}" in data:
            changes[name] = more_terms.threshold_update(
                getattr(contract, name),
                data[f"update_{name}"],
                f"update_{name}",
                contract.customer,
                contract.rate_card,
            )
    return changes


class PackageContractsView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_packages_list_contracts_on_package",
        tags=["Packages"],
        request=s.PackageContractsIn,
        parameters=page_parameters(),
        responses={
            200: page_schema("PackageListContractsOnPackageResponse", s.PackageContractOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.PackageContractsIn, request_body(request))
        package = get_or_404(Package, data["package_id"], field="package_id", label="Package")
        return query_cursor_page(
            request,
            selectors.contracts_on_package(
                package=package,
                covering_date=data.get("covering_date"),
                starting_at=data.get("starting_at"),
                include_archived=data["include_archived"],
            ),
            lambda rows: [out.package_contract_json(c) for c in rows],
        )
