"""Every admin form that edits an entity's custom fields writes them through
`core.custom_fields` (which records `custom_fields.changed`), never by saving the JSON itself."""

from django.contrib import admin
from django.test import RequestFactory

from core import custom_fields
from core.admin_forms import CustomFieldsAdminMixin


def _editing_custom_fields(model_admin, request) -> bool:
    form = model_admin.get_form(request, None)
    return "custom_fields" in form.base_fields


def test_each_admin_form_with_custom_fields_writes_them_through_the_service(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    entities = {}
    for entity in custom_fields.registered_entities():
        entities.setdefault(custom_fields.entity_model(entity), entity)
    editing = {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if model in entities and _editing_custom_fields(model_admin, request)
    }
    assert sorted(editing) == [
        "catalog.Product",
        "catalog.RateCard",
        "customers.Contract",
        "customers.Customer",
        "customers.Discount",
        "customers.ProfessionalService",
    ]
    for label, model_admin in editing.items():
        assert isinstance(model_admin, CustomFieldsAdminMixin), label
        assert custom_fields.entity_model(model_admin.custom_fields_entity) is model_admin.model
