"""The outbox in the admin: what happened, and whether every reaction to it has run."""

from django.contrib import admin, messages
from django.db.models import Count, Q

from .admin_forms import pretty_json
from .custom_fields import custom_field_key_remove
from .models import CustomFieldKey, DomainEvent, DomainEventHandling
from .outbox import dispatch


class DomainEventHandlingInline(admin.TabularInline):
    model = DomainEventHandling
    extra = 0
    can_delete = False
    fields = ("handler", "done_at", "attempts", "next_attempt_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see an event sees its reactions.
        return request.user.has_perm("core.view_domainevent")


class PendingFilter(admin.SimpleListFilter):
    title = "reactions"
    parameter_name = "reactions"

    def lookups(self, request, model_admin):
        return [("pending", "Some still pending"), ("done", "All done")]

    def queryset(self, request, queryset):
        pending = Q(handlings__done_at__isnull=True)
        if self.value() == "pending":
            return queryset.filter(pending).distinct()
        if self.value() == "done":
            return queryset.exclude(pending)
        return queryset


@admin.register(DomainEvent)
class DomainEventAdmin(admin.ModelAdmin):
    """Read-only: events are written by services, never by hand."""

    list_display = ("id", "type", "subject_id", "customer_id", "occurred_at", "pending")
    list_filter = ("type", PendingFilter)
    search_fields = ("subject_id", "customer_id", "type")
    ordering = ("-id",)
    fields = ("id", "uuid", "type", "subject_id", "customer_id", "occurred_at", "created_at")
    readonly_fields = (*fields, "payload_display")
    inlines = [DomainEventHandlingInline]
    actions = ["run_pending"]

    def get_fields(self, request, obj=None):
        return (*self.fields, "payload_display")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(pending_count=Count("handlings", filter=Q(handlings__done_at__isnull=True)))
        )

    @admin.display(description="Pending reactions")
    def pending(self, obj) -> int:
        return obj.pending_count

    @admin.display(description="Payload")
    def payload_display(self, obj) -> str:
        return pretty_json(obj.payload)

    @admin.action(description="Run their pending reactions now", permissions=["change"])
    def run_pending(self, request, queryset):
        done = dispatch(event_ids=list(queryset.values_list("pk", flat=True)))
        messages.info(request, f"{done} pending reaction(s) ran to success.")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The change permission runs pending reactions; the page itself stays read-only.
        return obj is None and super().has_change_permission(request, obj)


@admin.register(CustomFieldKey)
class CustomFieldKeyAdmin(admin.ModelAdmin):
    """Custom field keys declared per entity type (values live on the entities); removing a key
    here removes its values too, as /v1/customFields/removeKey does."""

    list_display = ["entity", "key", "enforce_uniqueness", "created_at"]
    list_filter = ["entity", "enforce_uniqueness"]
    search_fields = ["key"]
    fields = ["entity", "key", "enforce_uniqueness"]

    def get_readonly_fields(self, request, obj=None):
        return ["entity", "key"] if obj is not None else []

    def delete_model(self, request, obj):
        custom_field_key_remove(entity=obj.entity, key=obj.key)

    def delete_queryset(self, request, queryset):
        for key in queryset:
            custom_field_key_remove(entity=key.entity, key=key.key)
