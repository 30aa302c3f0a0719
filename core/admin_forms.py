"""Admin pieces shared by every app's admin: plain-text form fields, nested rows, links, archiving.

Finance staff never type JSON in the admin: lists are comma separated (`NameListField`), key sets
one per line (`KeySetsField`), group values `key=value` (`KeyValuesField`), and a row's own child
rows (tiers, schedules) are a small formset carried by the row's form (`NestedRowsMixin`; Django has
no nested inlines). Archivable models share the Archived filter and the Archive action
(`ArchivableAdmin`). Money is shown by `catalog.admin.display.money_display`, beside the units.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets as admin_widgets
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .custom_fields import custom_field_values_check, custom_field_values_replace

NESTED_MEDIA = {"js": ["admin_extra/nested_rows.js"], "css": {"all": ["admin_extra/admin.css"]}}

# ---------------------------------------------------------------------------------------------
# Fields


class PlainDecimalField(forms.DecimalField):
    """A decimal input that shows 150, not 150.000000000000, and accepts any precision."""

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"  # 150.000000000000 -> 150, never 1.5E+2
        return value

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.NumberInput):
            attrs["step"] = "any"
        return attrs


DECIMAL_OVERRIDES = {models.DecimalField: {"form_class": PlainDecimalField}}


def nested_formfield(db_field, **kwargs):
    """Form fields for rows inside a nested formset: admin date/time widgets, plain decimals."""
    if isinstance(db_field, models.DateTimeField):
        return db_field.formfield(
            form_class=forms.SplitDateTimeField, widget=admin_widgets.AdminSplitDateTime, **kwargs
        )
    if isinstance(db_field, models.DecimalField):
        return db_field.formfield(form_class=PlainDecimalField, **kwargs)
    return db_field.formfield(**kwargs)


def split_names(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


class NameListField(forms.Field):
    """A JSON list of names, typed as `a, b, c`."""

    widget = forms.TextInput(attrs={"size": 60})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        return split_names(value)


class KeySetsField(forms.Field):
    """A metric's group keys: one key set per line, the keys of a set separated by commas."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(", ".join(key_set) for key_set in value)
        return value

    def to_python(self, value) -> list[list[str]]:
        if isinstance(value, list):
            return value
        return [
            [key.strip() for key in line.split(",") if key.strip()]
            for line in (value or "").splitlines()
            if line.strip()
        ]


class KeyValuesField(forms.Field):
    """Pricing group values, typed as `model_name=model-A, region=us`."""

    widget = forms.TextInput(attrs={"size": 40})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        return value

    def to_python(self, value) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        result: dict[str, str] = {}
        for item in split_names(value):
            key, sep, val = item.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise ValidationError(f"Write each value as key=value (got '{item}').")
            if key.strip() in result:
                raise ValidationError(f"'{key.strip()}' is given twice.")
            result[key.strip()] = val.strip()
        return result


# ---------------------------------------------------------------------------------------------
# Form plumbing


class ModelErrorsMixin:
    """Show a model's clean() errors on the form even for fields the form does not edit.

    Django raises ValueError (a 500) when Model.clean() names a field missing from the form; here
    such errors go to `model_error_fields[field]` when given, else to the top of the form.
    """

    model_error_fields: dict[str, str] = {}

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            remapped: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                target = self.model_error_fields.get(field, field)
                if target != NON_FIELD_ERRORS and target not in self.fields:
                    target = NON_FIELD_ERRORS
                remapped.setdefault(target, []).extend(messages)
            errors = ValidationError(remapped)
        super()._update_errors(errors)


class NestedRowsMixin(ModelErrorsMixin):
    """A model form that carries formsets of its own child rows.

    `nested_formsets` lists (name, heading, formset class); each formset is built with
    `instance=` this form's instance and the prefix `<form prefix>-<name>`, validated in clean(),
    and saved after the instance. A formset whose management form was not posted is left alone.
    """

    nested_formsets: tuple = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nested = []
        for name, heading, formset_class in self.nested_formsets:
            prefix = f"{self.prefix}-{name}" if self.prefix else name
            posted = self.is_bound and f"{prefix}-TOTAL_FORMS" in self.data
            formset = formset_class(
                data=self.data if posted else None,
                files=self.files if posted else None,
                instance=self.instance,
                prefix=prefix,
            )
            formset.heading = heading
            self.nested.append(formset)
            setattr(self, f"{name}_formset", formset)

    def has_changed(self):
        return super().has_changed() or any(fs.is_bound and fs.has_changed() for fs in self.nested)

    def prepare_nested(self, cleaned_data) -> None:
        """Hook: tell the nested formsets what they need from this form before validating."""

    def clean(self):
        cleaned_data = super().clean()
        self.prepare_nested(cleaned_data)
        for formset in self.nested:
            if not formset.is_bound:
                continue
            formset.full_clean()
            if not formset.is_valid():
                problems = list(formset.non_form_errors())
                self.add_error(
                    None, problems or f"Correct the {formset.heading.lower()} rows below."
                )
        return cleaned_data

    def save(self, commit=True):
        instance = super().save(commit=commit)
        if commit:
            self.save_nested()
        else:
            save_m2m = self.save_m2m

            def save_m2m_and_nested():
                save_m2m()
                self.save_nested()

            self.save_m2m = save_m2m_and_nested
        return instance

    def save_nested(self) -> None:
        for formset in self.nested:
            if formset.is_bound:
                formset.instance = self.instance
                formset.save()

    @property
    def media(self):
        media = super().media
        for formset in self.nested:
            media += formset.media
        return media


class OrderedRowsFormSet(forms.BaseFormSet):
    """Child rows typed in order (tiers): level = position; saving replaces the stored rows.

    Subclasses set `row_model`, `parent_field`, `row_fields`, `row_filter` and `problem()`.
    Deleting a row is clearing it.
    """

    row_model: type[models.Model]
    parent_field: str
    row_fields: tuple[str, ...]
    row_filter: dict = {}

    def __init__(self, data=None, files=None, *, instance, prefix, **kwargs):
        self.instance = instance
        initial = []
        if not instance._state.adding:
            stored = self.row_model.objects.filter(
                **{self.parent_field: instance}, **self.row_filter
            ).order_by("level")
            initial = [
                self.row_for_display({name: getattr(row, name) for name in self.row_fields})
                for row in stored
            ]
        # Blank rows to type into: a few for a new table, one more under stored rows.
        self.extra = 1 if initial else self.extra
        super().__init__(data, files, prefix=prefix, initial=initial, **kwargs)

    def rows(self) -> list[tuple]:
        """The typed rows as stored (`row_for_storage`), blank rows left out."""
        rows = []
        for form in self.forms:
            values = {name: form.cleaned_data.get(name) for name in self.row_fields}
            if any(v is not None for v in values.values()):
                stored = self.row_for_storage(values)
                rows.append(tuple(stored[name] for name in self.row_fields))
        return rows

    def row_for_display(self, values: dict) -> dict:
        """Hook: a stored row as typed (amounts in their display unit)."""
        return values

    def row_for_storage(self, values: dict) -> dict:
        """Hook: a typed row as stored."""
        return values

    def problem(self, rows: list[tuple]) -> str | None:
        raise NotImplementedError

    def clean(self):
        if any(self.errors):
            return
        problem = self.problem(self.rows())
        if problem:
            raise ValidationError(problem)

    def save(self) -> None:
        if not self.has_changed():
            return
        parent = {self.parent_field: self.instance}
        self.row_model.objects.filter(**parent, **self.row_filter).delete()
        self.row_model.objects.bulk_create(
            self.row_model(
                **parent,
                **self.row_filter,
                level=level,
                **dict(zip(self.row_fields, row, strict=True)),
            )
            for level, row in enumerate(self.rows(), start=1)
        )


def ordered_rows_formset(formset_class, *, extra: int = 3):
    """A formset class whose row form has `row_fields` of `row_model`, all optional."""
    fields = {
        name: nested_formfield(formset_class.row_model._meta.get_field(name), required=False)
        for name in formset_class.row_fields
    }
    row_form = type(f"{formset_class.row_model.__name__}RowForm", (forms.Form,), fields)
    return forms.formset_factory(row_form, formset=formset_class, extra=extra)


def non_deleted_forms(formset) -> list:
    return [
        form
        for form in formset.forms
        if form.cleaned_data and not (formset.can_delete and formset._should_delete_form(form))
    ]


# ---------------------------------------------------------------------------------------------
# Links and archiving


def admin_link(obj, text: str | None = None) -> str:
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def pretty_json(value) -> str:
    return format_html('<pre class="json-box">{}</pre>', json.dumps(value, indent=2, default=str))


class ArchivedListFilter(admin.SimpleListFilter):
    """Archived: No (the default, with no query parameter) / Yes / All."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "No (default)"), ("yes", "Yes"), ("all", "All")]

    def choices(self, changelist):
        current = self.value() or "no"
        for lookup, title in self.lookup_choices:
            if lookup == "no":
                query_string = changelist.get_query_string(remove=[self.parameter_name])
            else:
                query_string = changelist.get_query_string({self.parameter_name: lookup})
            yield {"selected": current == lookup, "query_string": query_string, "display": title}

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "no":
            return queryset.filter(archived_at__isnull=True)
        if value == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.action(description="Archive selected %(verbose_name_plural)s", permissions=["change"])
def archive_selected(modeladmin, request, queryset):
    """Archive through the same service the API uses; refusals are reported, not raised."""
    now = timezone.now()
    archived = 0
    for obj in queryset.filter(archived_at__isnull=True):
        try:
            modeladmin.archive(obj, now=now)
        except ValidationError as error:
            modeladmin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.WARNING)
        else:
            archived += 1
    if archived:
        modeladmin.message_user(request, f"Archived {archived}.", messages.SUCCESS)


class ArchivableAdmin(admin.ModelAdmin):
    """Archived rows are hidden unless asked for; rows are archived, never deleted.

    Subclasses name their app's archive service in `archive(obj, now=...)`.
    """

    actions = [archive_selected]
    formfield_overrides = DECIMAL_OVERRIDES

    def archive(self, obj, *, now):
        raise NotImplementedError

    def get_list_filter(self, request):
        return [ArchivedListFilter, *super().get_list_filter(request)]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def is_archived(self, obj) -> bool:
        return obj.archived_at is not None


class CustomFieldsAdminMixin:
    """An entity's `custom_fields` edited in its admin form are checked and written by
    `core.custom_fields` (the same rules as /v1/customFields/setValues: declared keys, string
    values, unique keys), which records `custom_fields.changed`: whoever hears it (alerts
    filtered on custom fields) reacts at once, as after the API. `custom_fields_entity` names
    the entity type the model is registered as."""

    custom_fields_entity: str = ""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "custom_fields" not in form.base_fields:  # read only for this viewer
            return form
        entity = self.custom_fields_entity

        def clean_custom_fields(bound):
            values = bound.cleaned_data.get("custom_fields") or {}
            try:
                custom_field_values_check(
                    entity=entity,
                    entity_id=bound.instance.pk,
                    values=values,
                    held=bound.initial.get("custom_fields") or {},
                )
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
            return values

        return type(form.__name__, (form,), {"clean_custom_fields": clean_custom_fields})

    def save_model(self, request, obj, form, change):
        if "custom_fields" not in form.changed_data:
            return super().save_model(request, obj, form, change)
        wanted = obj.custom_fields or {}
        obj.custom_fields = form.initial.get("custom_fields") or {}
        super().save_model(request, obj, form, change)
        obj.custom_fields = custom_field_values_replace(
            entity=self.custom_fields_entity, entity_id=obj.pk, values=wanted, now=timezone.now()
        )


def read_only_names(names: list, shown_as: dict[str, str | None], seen: set | None = None) -> list:
    """Field names (or tuples of them, one line each) as someone who may not change them reads
    them: a name in `shown_as` becomes its display method (money as money, not stored cents), or
    is left out (None: a form-only field, or one a summary already says); each name once."""
    seen = set() if seen is None else seen
    result = []
    for name in names:
        if isinstance(name, tuple | list):
            line = tuple(read_only_names(list(name), shown_as, seen))
            if line:
                result.append(line if len(line) > 1 else line[0])
            continue
        shown = shown_as.get(name, name)
        if shown and shown not in seen:
            seen.add(shown)
            result.append(shown)
    return result


class ReadOnlyNamesMixin:
    """A model admin or inline shown to someone who may not change it with its fields as
    `read_only_shown_as` says (`read_only_names`); its display methods are in readonly_fields
    and shown to readers only (whoever may change the row types the fields themselves)."""

    read_only_shown_as: dict[str, str | None] = {}

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):  # an add page types them
            shown_as = {name: None for name in self.read_only_shown_as.values() if name}
        else:
            shown_as = self.read_only_shown_as
        seen: set = set()
        return [
            (name, {**options, "fields": read_only_names(options["fields"], shown_as, seen)})
            for name, options in fieldsets
        ]


class HiddenFromIndexMixin:
    """Reachable from its parent's page, not listed on the admin index."""

    def get_model_perms(self, request):
        return {}


# ---------------------------------------------------------------------------------------------
# Who is looking at the page being rendered

# Display methods (a page's panels) are given the object, not the request: while a
# `ViewerAwareAdmin`'s change page renders, this names who is looking.
_page_viewer: ContextVar = ContextVar("admin_page_viewer", default=None)


def page_viewer_may(permission: str) -> bool:
    """Whether the person whose change page is being rendered holds `permission` (no one is
    known outside a `ViewerAwareAdmin`'s change page: then no). A link or button leading to a
    view they would be refused is left out; the view still checks."""
    user = _page_viewer.get()
    return user is not None and user.has_perm(permission)


class ViewerAwareAdmin:
    """A model admin whose display methods may ask `page_viewer_may(...)`: its change page is
    rendered inside `change_view`, while the viewer is known."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _page_viewer.set(request.user)
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            _page_viewer.reset(token)
