"""The audit trail in the admin: a global list filterable by actor, source and kind of object, an
entry's page with each field's old and new value; every object's "History" shows its entries
(templates/admin/object_history.html, through the `audit_history` tag)."""

from auditlog.registry import auditlog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from .models import AuditEntry
from .selectors import ACTIONS, field_changes, resource_type_of

# auditlog's own admin registers the swapped-in model with its defaults; this one replaces it.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


class ResourceTypeFilter(admin.SimpleListFilter):
    title = "kind of object"
    parameter_name = "resource_type"

    def lookups(self, request, model_admin):
        return sorted(
            (model._meta.label_lower, str(model._meta.verbose_name).capitalize())
            for model in auditlog.get_models()
        )

    def queryset(self, request, queryset):
        if self.value():
            app_label, _, model = self.value().partition(".")
            return queryset.filter(content_type__app_label=app_label, content_type__model=model)
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are written by the models' own saves, never by hand."""

    list_display = ["timestamp", "actor_name", "source", "action_display", "resource", "summary"]
    list_filter = [
        ("actor_name", admin.AllValuesFieldListFilter),
        "source",
        "action",
        ResourceTypeFilter,
    ]
    search_fields = ["object_repr", "object_pk", "actor_name"]
    date_hierarchy = "timestamp"
    list_select_related = ["content_type"]
    ordering = ["-timestamp", "-id"]
    fields = [
        "timestamp",
        "actor_name",
        "actor_link",
        "source",
        "action_display",
        "resource",
        "request_id",
        "remote_addr",
        "user_agent",
        "changes_table",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="action", ordering="action")
    def action_display(self, obj) -> str:
        return ACTIONS.get(obj.action, "")

    @admin.display(description="who")
    def actor_link(self, obj) -> str:
        if obj.actor_token_id is not None:
            url = reverse("admin:core_apitoken_change", args=[obj.actor_token_id])
            return format_html('<a href="{}">{}</a>', url, obj.actor_display)
        if obj.actor_id is not None:
            user_model = get_user_model()._meta
            url = reverse(
                f"admin:{user_model.app_label}_{user_model.model_name}_change", args=[obj.actor_id]
            )
            return format_html('<a href="{}">{}</a>', url, obj.actor_display)
        return obj.actor_display

    @admin.display(description="object")
    def resource(self, obj) -> str:
        kind = resource_type_of(obj.content_type).replace("_", " ")
        try:
            url = reverse(
                f"admin:{obj.content_type.app_label}_{obj.content_type.model}_change",
                args=[obj.object_pk],
            )
        except NoReverseMatch:
            return f"{kind}: {obj.object_repr}"
        if obj.action == AuditEntry.Action.DELETE:
            return f"{kind}: {obj.object_repr}"
        return format_html('{}: <a href="{}">{}</a>', kind, url, obj.object_repr)

    @admin.display(description="changes")
    def summary(self, obj) -> str:
        rows = field_changes(obj)
        if obj.action != AuditEntry.Action.UPDATE:
            return f"{len(rows)} field(s)"
        return "; ".join(f"{label}: {old} → {new}" for label, old, new in rows[:3]) + (
            " …" if len(rows) > 3 else ""
        )

    @admin.display(description="old and new values")
    def changes_table(self, obj) -> str:
        return render_to_string("admin/audit/changes.html", {"rows": field_changes(obj)})
