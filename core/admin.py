"""Core in the admin: API tokens (created, shown once, revoked, expired) and the outbox (what
happened, and whether every reaction to it has run)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets as admin_widgets
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone

from .admin_forms import pretty_json
from .custom_fields import custom_field_key_remove
from .models import ApiToken, CustomFieldKey, DomainEvent, DomainEventHandling
from .outbox import dispatch
from .services import api_token_create, api_token_revoke

# ---------------------------------------------------------------------------------------------
# API tokens


class ApiTokenForm(forms.ModelForm):
    expires_at = forms.SplitDateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=admin_widgets.AdminSplitDateTime,
        help_text="Optional: the token stops working from this moment.",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "scope", "expires_at"]


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created here (the raw value shown once), revoked by an action, expired by
    setting `expires_at`; never deleted, so the audit trail keeps naming them."""

    form = ApiTokenForm
    list_display = [
        "name",
        "prefix_display",
        "scope",
        "state",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
    ]
    list_filter = [TokenStateFilter, "scope"]
    search_fields = ["name", "prefix", "created_by"]
    actions = ["revoke_selected"]
    readonly_fields = ["prefix_display", "state", "created_at", "created_by", "last_used_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scope", "expires_at"]
        return ["name", "prefix_display", "scope", "state", "expires_at", *self.readonly_fields[2:]]

    def get_readonly_fields(self, request, obj=None):
        # The scope of an existing token never widens silently: make a new token instead.
        return [*self.readonly_fields, "scope"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="token")
    def prefix_display(self, obj) -> str:
        return f"{obj.prefix}…"

    @admin.display(description="state")
    def state(self, obj) -> str:
        if obj.revoked_at is not None:
            return f"Revoked {obj.revoked_at:%Y-%m-%d %H:%M} UTC"
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return "Expired"
        return "Active"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = api_token_create(
            name=obj.name,
            scope=obj.scope,
            expires_at=obj.expires_at,
            created_by=request.user.get_username(),
        )
        obj.pk, obj._state.adding, obj._raw_token = token.pk, False, raw

    def response_add(self, request, obj, post_url_continue=None):
        """The raw token, once, on its own page: it is never stored and never shown again."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"API token “{obj.name}” created",
            "opts": self.opts,
            "token": ApiToken.objects.get(pk=obj.pk),
            "raw_token": obj._raw_token,
        }
        return TemplateResponse(request, "admin/core/apitoken/created.html", context)

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        now = timezone.now()
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, now=now)
            self.log_change(request, token, "Revoked.")
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API token(s).", messages.SUCCESS)


# ---------------------------------------------------------------------------------------------
# The outbox


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
        custom_field_key_remove(entity=obj.entity, key=obj.key, now=timezone.now())

    def delete_queryset(self, request, queryset):
        for key in queryset:
            custom_field_key_remove(entity=key.entity, key=key.key, now=timezone.now())
