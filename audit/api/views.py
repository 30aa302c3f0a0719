"""GET /v1/auditLogs: Metronome's audit log, read from the audit trail (SDK `v1.audit_logs.list`)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses, format_timestamp, keyset_page, page_schema, parse_limit
from core.api import parse_timestamp as parse_api_timestamp

from ..models import AuditEntry
from ..selectors import (
    ACTIONS,
    audit_entries_list,
    entry_description,
    resource_type_of,
    resource_types,
)

AUDIT_LOG_STATUSES = ["success", "failure", "pending"]


class AuditLogRequestSerializer(serializers.Serializer):
    id = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)


class AuditLogActorSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)


class AuditLogSerializer(serializers.Serializer):
    id = serializers.CharField()
    request = AuditLogRequestSerializer()
    timestamp = serializers.DateTimeField()
    action = serializers.CharField()
    actor = AuditLogActorSerializer()
    description = serializers.CharField()
    resource_id = serializers.CharField()
    resource_type = serializers.CharField()
    status = serializers.ChoiceField(choices=AUDIT_LOG_STATUSES)


def audit_log_data(entry: AuditEntry) -> dict:
    resource_type = resource_type_of(entry.content_type)
    if entry.actor_token_id is not None:
        actor = {"id": str(entry.actor_token_id), "name": entry.actor_display, "email": None}
    elif entry.actor_id is not None:
        actor = {"id": str(entry.actor_id), "name": entry.actor_display, "email": entry.actor_email}
    else:
        actor = {"id": entry.source, "name": entry.actor_display, "email": None}
    return {
        "id": str(entry.pk),
        "request": {
            "id": entry.request_id or str(entry.pk),
            "ip": entry.remote_addr,
            "user_agent": entry.user_agent or None,
        },
        "timestamp": format_timestamp(entry.timestamp),
        "action": f"{resource_type}.{ACTIONS.get(entry.action, 'update')}",
        "actor": actor,
        "description": entry_description(entry),
        "resource_id": entry.object_pk,
        "resource_type": resource_type,
        "status": "success",
    }


class AuditLogListView(APIView):
    """Entries oldest first (`sort=date_desc` for newest first), filtered by time or by one
    resource (`resource_type` and `resource_id` together), paged by `next_page`."""

    token_scope = "read"

    @extend_schema(
        operation_id="v1_audit_logs_list",
        tags=["Audit logs"],
        parameters=[
            OpenApiParameter("starting_on", str, description="RFC 3339, inclusive."),
            OpenApiParameter("ending_before", str, description="RFC 3339, exclusive."),
            OpenApiParameter("resource_type", str, description="With resource_id, e.g. rate_card."),
            OpenApiParameter("resource_id", str, description="With resource_type."),
            OpenApiParameter("sort", str, enum=["date_asc", "date_desc"]),
            OpenApiParameter("limit", int, description="Page size, 1 to 100."),
            OpenApiParameter("next_page", str, description="Cursor from the previous page."),
        ],
        responses={
            200: page_schema("AuditLogListResponse", AuditLogSerializer()),
            **error_responses(400),
        },
    )
    def get(self, request):
        params = request.query_params
        cursor = params.get("next_page") or None
        starting_on = params.get("starting_on")
        ending_before = params.get("ending_before")
        if cursor and (starting_on or ending_before):
            raise exceptions.ValidationError(
                {"next_page": "Cannot be used with starting_on or ending_before."}
            )
        resource_type = params.get("resource_type") or None
        resource_id = params.get("resource_id") or None
        if bool(resource_type) != bool(resource_id):
            raise exceptions.ValidationError(
                {"resource_type": "Give resource_type and resource_id together."}
            )
        content_type = None
        if resource_type:
            known = resource_types()
            content_type = known.get(resource_type)
            if content_type is None:
                raise exceptions.ValidationError(
                    {
                        "resource_type": f"'{resource_type}' is not one of {', '.join(sorted(known))}."
                    }
                )
        sort = params.get("sort") or "date_asc"
        if sort not in ("date_asc", "date_desc"):
            raise exceptions.ValidationError({"sort": "Must be date_asc or date_desc."})
        entries = audit_entries_list(
            starting_on=parse_api_timestamp(starting_on, "starting_on") if starting_on else None,
            ending_before=(
                parse_api_timestamp(ending_before, "ending_before") if ending_before else None
            ),
            content_type=content_type,
            resource_id=resource_id,
        )
        rows, next_page = keyset_page(
            entries,
            limit=parse_limit(params.get("limit")),
            cursor=cursor,
            time_field="timestamp",
            descending=sort == "date_desc",
        )
        return Response({"data": [audit_log_data(entry) for entry in rows], "next_page": next_page})
