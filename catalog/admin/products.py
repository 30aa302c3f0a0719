"""Products in the admin, with their dated updates (read-only)."""

from django.contrib import admin

from core.admin_forms import (
    ArchivableAdmin,
    CustomFieldsAdminMixin,
    ReadOnlyNamesMixin,
    pretty_json,
)

from .. import services
from ..forms import (
    ProductForm,
)
from ..models import (
    Product,
    ProductUpdate,
)
from .display import quantity_display

# ---------------------------------------------------------------------------------------------
# Products


class ProductUpdateInline(admin.TabularInline):
    """Dated updates made through the API, read-only: each applies from its start."""

    model = ProductUpdate
    extra = 0
    can_delete = False
    fields = ["starting_at", "changes_display", "created_at", "created_by"]
    readonly_fields = fields
    verbose_name_plural = "dated updates (from the API; each applies from its start)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="changes")
    def changes_display(self, obj) -> str:
        return pretty_json(obj.changes)


@admin.register(Product)
class ProductAdmin(CustomFieldsAdminMixin, ReadOnlyNamesMixin, ArchivableAdmin):
    custom_fields_entity = "product"
    form = ProductForm
    list_display = ["name", "type", "billable_metric", "tags_display", "quantity", "created_at"]
    list_filter = ["type", "billable_metric"]
    list_select_related = ["billable_metric"]
    search_fields = ["name", "id", "tags", "billable_metric__name"]
    date_hierarchy = "created_at"
    filter_horizontal = ["composite_products"]
    readonly_fields = [
        "created_at",
        "created_by",
        "archived_at",
        "tags_display",
        "pricing_keys",
        "presentation_keys",
        "conversion_factor",
        "composite_tags_display",
    ]
    # What a viewer reads: keys and tags as a list, the factor without twelve decimals.
    read_only_shown_as = {
        "tags": "tags_display",
        "pricing_group_key": "pricing_keys",
        "presentation_group_key": "presentation_keys",
        "quantity_conversion_factor": "conversion_factor",
        "composite_tags": "composite_tags_display",
    }
    fieldsets = [
        (None, {"fields": ["name", "type", "billable_metric", "tags"]}),
        (
            "Group keys (usage products)",
            {"fields": ["pricing_group_key", "presentation_group_key"]},
        ),
        (
            "Quantity conversion and rounding (usage products)",
            {
                "fields": [
                    ("quantity_conversion_operation", "quantity_conversion_factor"),
                    "quantity_conversion_name",
                    ("quantity_rounding_method", "quantity_rounding_decimal_places"),
                    "display_unit",
                ]
            },
        ),
        (
            "Composite products",
            {"fields": ["composite_products", "composite_tags", "exclude_free_usage"]},
        ),
        (
            "More",
            {
                "fields": [
                    "is_refundable",
                    "custom_fields",
                    "created_at",
                    "created_by",
                    "archived_at",
                ]
            },
        ),
    ]
    inlines = [ProductUpdateInline]

    def archive(self, obj, *, now):
        services.product_archive(product=obj, now=now)

    @admin.display(description="tags")
    def tags_display(self, obj) -> str:
        return ", ".join(obj.tags or []) or "—"

    @admin.display(description="pricing group key")
    def pricing_keys(self, obj) -> str:
        return ", ".join(obj.pricing_group_key or []) or "—"

    @admin.display(description="presentation group key")
    def presentation_keys(self, obj) -> str:
        return ", ".join(obj.presentation_group_key or []) or "—"

    @admin.display(description="quantity conversion factor")
    def conversion_factor(self, obj) -> str:
        return quantity_display(obj.quantity_conversion_factor)

    @admin.display(description="composite tags")
    def composite_tags_display(self, obj) -> str:
        return ", ".join(obj.composite_tags or []) or "—"

    @admin.display(description="quantity")
    def quantity(self, obj) -> str:
        parts = []
        if obj.quantity_conversion_operation:
            verb = "÷" if obj.quantity_conversion_operation == "DIVIDE" else "x"
            parts.append(f"{verb} {quantity_display(obj.quantity_conversion_factor)}")
        if obj.quantity_rounding_method:
            parts.append(
                f"{obj.get_quantity_rounding_method_display().lower()} to "
                f"{obj.quantity_rounding_decimal_places} places"
            )
        return ", ".join(parts) or "as measured"
