"""Admin forms for contracts: each term's own rows (access schedule, invoice schedule, tiers,
schedule items) are typed under the term on the contract page."""

import uuid

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import BaseInlineFormSet, inlineformset_factory
from django.urls import reverse
from rest_framework.exceptions import APIException

from catalog import money
from catalog.forms import MoneyColumnsMixin, MoneyFieldsMixin, MoneyRowsMixin
from catalog.models import tiers_problem
from core.admin_forms import (
    KeyValuesField,
    ModelErrorsMixin,
    NameListField,
    NestedRowsMixin,
    OrderedRowsFormSet,
    nested_formfield,
    ordered_rows_formset,
)
from core.exceptions import message_for

from .api import balance_document
from .form_editors import AccessRepeatFormMixin, RecurringScheduleFormMixin, SpecifierRowsField
from .models import (
    AccessSegment,
    BillingProviderConfiguration,
    Commit,
    CommitInvoiceItem,
    Contract,
    Credit,
    Customer,
    Discount,
    DiscountItem,
    IngestAlias,
    Override,
    OverrideTier,
    ScheduledCharge,
    ScheduledChargeItem,
)


def contract_unit_name(contract) -> str | None:
    """The unit a contract's invoices (and so its charges) are in: its rate card's fiat unit."""
    if contract is None or not contract.rate_card_id:
        return None
    return contract.rate_card.fiat_credit_type.name


class AccessSegmentForm(MoneyFieldsMixin, forms.ModelForm):
    """An access schedule segment: its amount in the commit's or credit's display unit."""

    money_fields = ("amount",)

    def _term(self):
        """The commit or credit of the segment: the formset's (`AccessRowsFormSet`; a new one,
        not saved yet, included), else the saved one's."""
        term = getattr(self, "term", None)
        if term is not None:
            return term
        term = self.instance.commit if self.instance.commit_id else None
        return term or (self.instance.credit if self.instance.credit_id else None)

    def unit_name_of_instance(self) -> str | None:
        term = self._term()
        return term.credit_type.name if term is not None and term.credit_type_id else None

    def money_applies(self, name: str, values) -> bool:
        """A QUANTITY balance's segments hold units, typed as they are."""
        term = self._term()
        return term is None or term.access_type != term.AccessType.QUANTITY


class ScheduleItemForm(MoneyFieldsMixin, forms.ModelForm):
    """A date of an invoice schedule or scheduled charge: invoiced in the contract's unit."""

    money_fields = ("amount", "unit_price")

    def unit_name_of_instance(self) -> str | None:
        for parent in ("commit", "scheduled_charge"):
            if getattr(self.instance, f"{parent}_id", None):
                return contract_unit_name(getattr(self.instance, parent).contract)
        return None


class MoneyRowsInlineFormSet(MoneyRowsMixin, BaseInlineFormSet):
    pass


class AccessRowsFormSet(MoneyRowsInlineFormSet):
    """A commit's or credit's access segments: each row knows its term (a new one too), whose
    access type says whether the amounts typed are money or units."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.term = self.instance
        return form


def _rows(parent, model, fields, *, form, fk_name=None, formset=MoneyRowsInlineFormSet):
    return inlineformset_factory(
        parent,
        model,
        form=form,
        formset=formset,
        fk_name=fk_name,
        fields=fields,
        extra=1,
        can_delete=True,
        formfield_callback=nested_formfield,
    )


ACCESS_FIELDS = ["amount", "starting_at", "ending_before"]
ITEM_FIELDS = ["timestamp", "amount", "unit_price", "quantity"]
COMMIT_ACCESS = _rows(
    Commit, AccessSegment, ACCESS_FIELDS, form=AccessSegmentForm, formset=AccessRowsFormSet
)
CREDIT_ACCESS = _rows(
    Credit, AccessSegment, ACCESS_FIELDS, form=AccessSegmentForm, formset=AccessRowsFormSet
)
COMMIT_INVOICES = _rows(Commit, CommitInvoiceItem, ITEM_FIELDS, form=ScheduleItemForm)
CHARGE_ITEMS = _rows(ScheduledCharge, ScheduledChargeItem, ITEM_FIELDS, form=ScheduleItemForm)


class BalanceTermFormSet(BaseInlineFormSet):
    """Commits and credits on a contract page belong to the contract's customer."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        if form.instance.customer_id is None and self.instance.customer_id is not None:
            form.instance.customer_id = self.instance.customer_id
        return form

    def save_new(self, form, commit=True):
        form.instance.customer_id = self.instance.customer_id
        return super().save_new(form, commit=commit)


class SpecifiersFormMixin:
    """Specifiers typed as rows (`form_editors.SpecifierRowsField`), refused beside applicable
    products (Metronome's rule)."""

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("specifiers") and cleaned.get("applicable_products"):
            self.add_error(
                "specifiers", "Specifiers cannot be used with applicable products or tags."
            )
        return cleaned


# The form field of each API field a commit or credit check names (`api.balance_document`).
API_FIELDS = {
    "product_id": "product",
    "applicable_product_ids": "applicable_products",
    "access_schedule.credit_type_id": "credit_type",
    "access_schedule.access_type": "access_type",
}


class AccessTypeFormMixin:
    """A commit's or credit's access type, chosen when it is made (its schedule and ledger are in
    money or in units ever after). A QUANTITY one is checked as the API checks it in a contract
    create request (`api.balance_document`): the same refusals, each on its form field."""

    balance_kind = "commit"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("access_type")
        if field is not None:
            field.required = False  # left out: SPEND, as the API's default
            field.disabled = not self.instance._state.adding

    def clean_access_type(self):
        return self.cleaned_data.get("access_type") or Commit.AccessType.SPEND

    def _post_clean(self):
        super()._post_clean()
        data = self.cleaned_data
        if self._errors or data.get("access_type") != Commit.AccessType.QUANTITY:
            return
        try:
            balance_document.balance_check(kind=self.balance_kind, body=self._api_body(data))
        except APIException as exc:
            details = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
            for path, problems in details.items():
                field, text = API_FIELDS.get(path, path), message_for(problems)
                if field in self.fields:
                    self.add_error(field, text)
                else:
                    self.add_error(None, f"{path}: {text}" if path else text)

    def _api_body(self, data) -> dict:
        """The form's values in the API's request shape (a contract create's commits[] or
        credits[] item; its access segments are typed as rows)."""
        access = {"access_type": data["access_type"]}
        if data.get("credit_type") is not None:
            access["credit_type_id"] = str(data["credit_type"].pk)
        body = {
            "product_id": str(data["product"].pk),
            "access_schedule": access,
            "applicable_product_ids": [str(p.pk) for p in data.get("applicable_products") or ()],
            "applicable_product_tags": list(data.get("applicable_product_tags") or ()),
            "specifiers": list(data.get("specifiers") or ()),
            "rate_type": data.get("rate_type") or "LIST_RATE",
        }
        if data.get("rollover_fraction") is not None:
            body["rollover_fraction"] = data["rollover_fraction"]
        if self.balance_kind == "commit":
            body["type"] = data.get("type") or Commit.Type.PREPAID
        return body


class CommitForm(AccessTypeFormMixin, SpecifiersFormMixin, ModelErrorsMixin, forms.ModelForm):
    applicable_product_tags = NameListField(required=False, help_text="Comma separated.")
    specifiers = SpecifierRowsField()

    class Meta:
        model = Commit
        fields = [
            "customer",
            "contract",
            "product",
            "name",
            "description",
            "priority",
            "rate_type",
            "applicable_products",
            "applicable_product_tags",
            "specifiers",
            "credit_type",
            "access_type",
            "rollover_fraction",
            "type",
            "invoice_contract",
            "applicable_contracts",
        ]


class CommitPageForm(RecurringScheduleFormMixin, CommitForm):
    """A commit on its own page (a customer-level one too): a recurring schedule adds invoice
    dates, in the unit of the contract that invoices it."""

    recurring_item_model = CommitInvoiceItem
    recurring_owner = "commit"

    def recurring_contract(self, cleaned_data):
        return (
            cleaned_data.get("contract")
            or cleaned_data.get("invoice_contract")
            or super().recurring_contract(cleaned_data)
        )


class TermRowsMoneyMixin:
    """A commit or credit typed with its rows: the access schedule is in the term's unit, the
    invoice schedule in the contract's."""

    def prepare_nested(self, cleaned_data):
        # A QUANTITY term's segments hold units (`AccessSegmentForm.money_applies` reads it).
        self.instance.access_type = cleaned_data.get("access_type") or self.instance.access_type
        unit = cleaned_data.get("credit_type") or (
            self.instance.credit_type if self.instance.credit_type_id else None
        )
        contract = cleaned_data.get("contract") or getattr(self.instance, "contract", None)
        for formset in self.nested:
            if formset is getattr(self, "access_schedule_formset", None):
                formset.set_money_unit(unit.name if unit else None)
            else:
                formset.set_money_unit(contract_unit_name(contract))


class CommitWithRowsForm(
    RecurringScheduleFormMixin, TermRowsMoneyMixin, NestedRowsMixin, CommitForm
):
    """A commit on the contract page: its access and invoice schedules as rows, and a recurring
    schedule that adds invoice dates."""

    recurring_item_model = CommitInvoiceItem
    recurring_owner = "commit"
    nested_formsets = (
        ("access_schedule", "Access schedule", COMMIT_ACCESS),
        ("invoice_schedule", "Invoice schedule", COMMIT_INVOICES),
    )


class CreditForm(AccessTypeFormMixin, SpecifiersFormMixin, ModelErrorsMixin, forms.ModelForm):
    balance_kind = "credit"

    applicable_product_tags = NameListField(required=False, help_text="Comma separated.")
    specifiers = SpecifierRowsField()

    class Meta:
        model = Credit
        fields = [
            "customer",
            "contract",
            "product",
            "name",
            "description",
            "priority",
            "rate_type",
            "applicable_products",
            "applicable_product_tags",
            "specifiers",
            "credit_type",
            "access_type",
            "rollover_fraction",
            "applicable_contracts",
        ]


class CreditPageForm(AccessRepeatFormMixin, CreditForm):
    """A credit on its own page (a customer-level one too): a Repeat adds access segments."""


class CreditWithRowsForm(AccessRepeatFormMixin, TermRowsMoneyMixin, NestedRowsMixin, CreditForm):
    """A credit on the contract page: its access schedule as rows, and a Repeat that adds
    access segments."""

    nested_formsets = (("access_schedule", "Access schedule", CREDIT_ACCESS),)


class OverrideTierRowsFormSet(MoneyColumnsMixin, OrderedRowsFormSet):
    """An override's tiers: multipliers for TIERED, prices for a tiered OVERWRITE (typed in the
    overwrite's display unit)."""

    row_model = OverrideTier
    parent_field = "override"
    row_fields = ("size", "multiplier", "price")
    money_columns = ("price",)

    def unit_name_of_parent(self) -> str | None:
        override = self.instance
        if override.overwrite_credit_type_id:
            return override.overwrite_credit_type.name
        return contract_unit_name(override.contract if override.contract_id else None)

    show_when = (("type", "TIERED"), ("overwrite_rate_type", "TIERED"))
    help_text = "Multipliers for tiered multipliers, prices for a tiered overwrite. Leave the last size empty."
    override_type: str | None = None
    overwrite_rate_type: str | None = None

    def problem(self, rows):
        if self.override_type == Override.Type.TIERED:
            if any(price is not None for _, _, price in rows):
                return "Tiered multiplier overrides take a multiplier per tier, not a price."
            problem = tiers_problem([(size, multiplier) for size, multiplier, _ in rows])
            return problem and problem.replace("price", "multiplier")
        if self.override_type == Override.Type.OVERWRITE and self.overwrite_rate_type == "TIERED":
            if any(multiplier is not None for _, multiplier, _ in rows):
                return "A tiered overwrite takes a price per tier, not a multiplier."
            return tiers_problem([(size, price) for size, _, price in rows])
        if rows:
            return (
                "Tier rows are only for tiered multipliers or a tiered overwrite: change the "
                "type, or clear the tier rows."
            )
        return None


class OverrideForm(MoneyFieldsMixin, NestedRowsMixin, forms.ModelForm):
    applicable_product_tags = NameListField(required=False, help_text="Comma separated.")
    tags_match = forms.ChoiceField(
        choices=Override.TagsMatch.choices,
        required=False,
        initial=Override.TagsMatch.ANY,
        label="Products with",
        help_text="Group values, a billing frequency or commits narrow the target further.",
    )
    pricing_group_values = KeyValuesField(required=False, help_text="e.g. model_name=model-A")
    presentation_group_values = KeyValuesField(required=False)
    commit_ids = NameListField(
        required=False, help_text="Commit ids, comma separated (commit-specific overrides)."
    )
    nested_formsets = (("tiers", "Tiers", ordered_rows_formset(OverrideTierRowsFormSet)),)
    money_fields = ("overwrite_price",)

    class Meta:
        model = Override
        fields = [
            "contract",
            "type",
            "starting_at",
            "ending_before",
            "product",
            "applicable_product_tags",
            "tags_match",
            "pricing_group_values",
            "presentation_group_values",
            "billing_frequency",
            "commit_ids",
            "multiplier",
            "overwrite_rate_type",
            "overwrite_price",
            "overwrite_credit_type",
            "entitled",
            "priority",
            "is_commit_specific",
            "target",
        ]

    def unit_name_of_instance(self) -> str | None:
        if self.instance.overwrite_credit_type_id:
            return self.instance.overwrite_credit_type.name
        return contract_unit_name(self.instance.contract if self.instance.contract_id else None)

    def unit_name_of_cleaned(self, cleaned_data) -> str:
        unit = cleaned_data.get("overwrite_credit_type")
        if unit is not None:
            return unit.name
        contract = cleaned_data.get("contract")
        return (
            contract_unit_name(contract)
            or self.unit_name_of_instance()
            or self.money_unit_name
            or money.USD_CENTS_NAME
        )

    def clean_tags_match(self):
        return self.cleaned_data.get("tags_match") or Override.TagsMatch.ANY

    def prepare_nested(self, cleaned_data):
        self.tiers_formset.override_type = cleaned_data.get("type")
        self.tiers_formset.overwrite_rate_type = cleaned_data.get("overwrite_rate_type")
        self.tiers_formset.money_unit_name = self.unit_name_of_cleaned(cleaned_data)


class ScheduledChargeForm(RecurringScheduleFormMixin, NestedRowsMixin, forms.ModelForm):
    recurring_item_model = ScheduledChargeItem
    recurring_owner = "scheduled_charge"
    nested_formsets = (("schedule_items", "Schedule", CHARGE_ITEMS),)

    def prepare_nested(self, cleaned_data):
        contract = cleaned_data.get("contract") or getattr(self.instance, "contract", None)
        self.schedule_items_formset.set_money_unit(contract_unit_name(contract))

    class Meta:
        model = ScheduledCharge
        fields = ["contract", "product", "name"]


BILLING_CONFIGURATION_HELP = (
    "Where the contract's invoices are sent: one of the chosen customer's active billing provider "
    "configurations. The list follows the customer field (without JavaScript, it is filled when "
    "the form comes back, e.g. after saving: choose it then). A customer's configurations are "
    "added on the customer's page."
)


def offer_billing_configurations(form: forms.BaseForm, customer_id) -> None:
    """The form's billing provider configuration field offers the active configurations of
    `customer_id` (none before a customer is chosen); the page's script
    (admin_extra/billing_configurations.js) refills it from the admin when the customer changes."""
    field = form.fields["billing_provider_configuration"]
    try:
        customer_id = uuid.UUID(str(customer_id)) if customer_id else None
    except ValueError:
        customer_id = None
    configs = BillingProviderConfiguration.objects.filter(archived_at__isnull=True)
    field.queryset = configs.filter(customer_id=customer_id) if customer_id else configs.none()
    field.help_text = BILLING_CONFIGURATION_HELP
    widget = getattr(field.widget, "widget", field.widget)  # inside the admin's wrapper
    widget.attrs.update(
        {
            "data-configurations-url": reverse("admin:customers_contract_billing_configurations"),
            "data-customer-field": form.add_prefix("customer"),
        }
    )


def _chosen_customer(form: forms.BaseForm, default):
    """The customer the form was posted with (what the list must follow), else `default`."""
    return form.data.get(form.add_prefix("customer")) if form.is_bound else default


class ContractForm(ModelErrorsMixin, forms.ModelForm):
    class Meta:
        model = Contract
        fields = [
            "customer",
            "name",
            "rate_card",
            "package",
            "starting_at",
            "ending_before",
            "usage_statement_frequency",
            "usage_statement_day",
            "billing_anchor_date",
            "net_payment_terms_days",
            "multiplier_override_prioritization",
            "scheduled_charges_on_usage_invoices",
            "billing_provider",
            "billing_provider_configuration",
            "uniqueness_key",
            "custom_fields",
        ]

    class Media:
        js = ["admin_extra/billing_configurations.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "billing_provider_configuration" in self.fields:
            default = self.instance.customer_id or self.initial.get("customer")
            offer_billing_configurations(self, _chosen_customer(self, default))

    def clean(self):
        data = super().clean()
        config = data.get("billing_provider_configuration")
        if config is not None and not data.get("billing_provider"):
            data["billing_provider"] = config.billing_provider
            self.instance.billing_provider = config.billing_provider
        return data


class IngestAliasForm(forms.ModelForm):
    """An alias row; a clash is explained once, naming the customer that owns the alias."""

    class Meta:
        model = IngestAlias
        fields = ["customer", "alias"]

    def _post_clean(self):
        super()._post_clean()
        # The model reports a clash twice: its unique constraint's generic message (on the field,
        # or on the form inside an inline) and validate_unique()'s message naming the owner.
        # Keep the one that names the owner.
        generic = {c.violation_error_message for c in IngestAlias._meta.constraints}
        alias_errors = (self._errors or {}).get("alias")
        if not alias_errors or all(message in generic for message in alias_errors):
            return
        for field in ("alias", NON_FIELD_ERRORS):
            errors = self._errors.get(field)
            if errors:
                errors.data = [e for e in errors.data if next(iter(e)) not in generic]
                if not errors.data:
                    del self._errors[field]


class ContractFromPackageForm(forms.Form):
    """The few things a package leaves open (as the API's contract create with package_id):
    whose contract, when it starts, an optional uniqueness key, and where its invoices go."""

    customer = forms.ModelChoiceField(queryset=None)
    starting_at = forms.SplitDateTimeField(
        label="Starts at (UTC)",
        widget=admin_widgets.AdminSplitDateTime,
        help_text="Every date of the package's terms is placed relative to this moment.",
    )
    uniqueness_key = forms.CharField(
        required=False,
        max_length=128,
        help_text="Optional: a second contract with the same key is refused.",
    )
    billing_provider_configuration = forms.ModelChoiceField(
        queryset=BillingProviderConfiguration.objects.none(), required=False
    )

    class Media:
        js = ["admin_extra/billing_configurations.js"]

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["customer"]
        if admin_site is not None:
            field.widget = admin_widgets.AutocompleteSelect(
                Contract._meta.get_field("customer"), admin_site
            )
        # Set after the widget: the queryset hands the widget its choices.
        field.queryset = Customer.objects.filter(archived_at__isnull=True).order_by("name")
        offer_billing_configurations(self, _chosen_customer(self, self.initial.get("customer")))

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors under the field they name, the others above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for key, messages in exc.message_dict.items():
            for message in messages:
                if key in self.fields:
                    self.add_error(key, message)
                elif key == NON_FIELD_ERRORS:
                    self.add_error(None, message)
                else:
                    self.add_error(None, f"{key}: {message}")


# ---------------------------------------------------------------------------------------------
# The contracts issue's terms (discounts, professional services, recurring commits and credits):
# money typed in the display unit like every other amount in the admin.


def _contract_of(instance, path: tuple[str, ...]):
    """The contract reached from `instance` by the foreign keys in `path`, if they are set."""
    for name in path:
        if instance is None or not getattr(instance, f"{name}_id", None):
            return None
        instance = getattr(instance, name)
    return instance


class ContractMoneyForm(MoneyFieldsMixin, forms.ModelForm):
    """A term whose `money_fields` are invoiced in its contract's unit (`contract_path`: the
    foreign keys from the row to its contract; a chosen `contract` field wins)."""

    contract_path: tuple[str, ...] = ("contract",)

    def unit_name_of_instance(self) -> str | None:
        return contract_unit_name(_contract_of(self.instance, self.contract_path))

    def unit_name_of_cleaned(self, cleaned_data) -> str:
        chosen = cleaned_data.get("contract")
        if isinstance(chosen, Contract):
            return contract_unit_name(chosen) or money.USD_CENTS_NAME
        return super().unit_name_of_cleaned(cleaned_data)


class DiscountForm(RecurringScheduleFormMixin, forms.ModelForm):
    """A discount, with a recurring schedule that adds dates beside those typed below."""

    recurring_item_model = DiscountItem
    recurring_owner = "discount"

    class Meta:
        model = Discount
        fields = ["contract", "product", "name", "custom_fields", "archived_at"]


class DiscountItemForm(ContractMoneyForm):
    money_fields = ("amount", "unit_price")
    contract_path = ("discount", "contract")


class ProfessionalServiceForm(ContractMoneyForm):
    money_fields = ("unit_price", "max_amount")


class RecurringBalanceForm(SpecifiersFormMixin, ContractMoneyForm):
    """A recurring commit or credit: what it grants (`access_unit_price`) in its own unit, what it
    invoices (`invoice_unit_price`) in the contract's."""

    applicable_product_tags = NameListField(required=False, help_text="Comma separated.")
    specifiers = SpecifierRowsField()

    money_fields = ("invoice_unit_price", "access_unit_price")
    money_field_units = {"access_unit_price": "credit_type"}
