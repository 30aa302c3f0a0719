"""v2 notification configurations (reference 3.10): offset notifications and system types on or
off; validate, call one service, answer."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    body_cursor_page,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    page_schema,
    request_body,
    validated,
)
from core.exceptions import Conflict

from .. import services
from ..models import OffsetNotification
from ..services.configs import SYSTEM_TYPES, system_notifications
from . import presenters as out
from . import serializers as s

TAGS = ["Alerts and notifications"]


def _bad(field: str, message: str):
    return exceptions.ValidationError({field: message})


OFFSET_CONFIG = inline_serializer(
    name="OffsetNotificationConfig",
    fields={
        "id": serializers.UUIDField(),
        "name": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "created_by": serializers.CharField(),
        "environment_type": serializers.CharField(),
        "policy": serializers.DictField(),
        "type": serializers.CharField(),
        "archived_at": serializers.DateTimeField(allow_null=True),
    },
)
SYSTEM_CONFIG = inline_serializer(
    name="SystemNotificationConfig",
    fields={
        "policy": serializers.DictField(),
        "type": serializers.CharField(),
        "is_enabled": serializers.BooleanField(),
    },
)


def _offset_of(policy: dict) -> str:
    if not policy.get("offset"):
        raise _bad("policy.offset", 'Required: an ISO 8601 duration such as "-P7D".')
    return policy["offset"]


def _config(value) -> OffsetNotification:
    return get_or_404(OffsetNotification, value, field="id", label="Notification configuration")


class OffsetCreateView(APIView):
    @extend_schema(
        operation_id="v2_notifications_offset_create",
        tags=TAGS,
        request=s.OffsetCreateIn,
        responses={
            200: data_schema("OffsetCreateResponse", OFFSET_CONFIG),
            **error_responses(400, 409),
        },
    )
    def post(self, request):
        data = validated(s.OffsetCreateIn, request_body(request))
        policy = data["policy"]
        if policy["type"] not in OffsetNotification.TYPES:
            raise _bad(
                "policy.type",
                f"'{policy['type']}' is not one of {', '.join(OffsetNotification.TYPES)}.",
            )
        offset = _offset_of(policy)
        key = data.get("uniqueness_key")
        try:
            with transaction.atomic():
                ensure_unused_uniqueness_key(
                    OffsetNotification.objects.all(), key, what="notification configuration"
                )
                config = services.offset_notification_create(
                    name=data["name"],
                    policy_type=policy["type"],
                    offset=offset,
                    uniqueness_key=key,
                    created_by=str(getattr(request.auth, "name", "") or "api"),
                )
        except ValueError as exc:
            raise _bad("policy.offset", str(exc)) from None
        except DjangoValidationError as exc:
            raise _bad("policy", "; ".join(exc.messages)) from None
        except IntegrityError:
            raise Conflict("uniqueness_key: was already used.") from None
        return envelope(out.offset_json(config))


class OffsetRetrieveView(APIView):
    @extend_schema(
        operation_id="v2_notifications_offset_retrieve",
        tags=TAGS,
        request=s.OffsetIdIn,
        responses={
            200: data_schema("OffsetRetrieveResponse", OFFSET_CONFIG),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.OffsetIdIn, request_body(request))
        return envelope(out.offset_json(_config(data["id"])))


class OffsetListView(APIView):
    @extend_schema(
        operation_id="v2_notifications_offset_list",
        tags=TAGS,
        request=s.OffsetListIn,
        responses={
            200: page_schema("OffsetListResponse", OFFSET_CONFIG, cursor_field="cursor"),
            **error_responses(400),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(s.OffsetListIn, body)
        queryset = OffsetNotification.objects.all()
        archive_filter = data.get("archive_filter") or "NOT_ARCHIVED"
        if archive_filter == "NOT_ARCHIVED":
            queryset = queryset.filter(archived_at__isnull=True)
        elif archive_filter == "ARCHIVED":
            queryset = queryset.filter(archived_at__isnull=False)
        return body_cursor_page(
            body, queryset, lambda rows: [out.offset_json(r) for r in rows], max_limit=400
        )


class OffsetArchiveView(APIView):
    @extend_schema(
        operation_id="v2_notifications_offset_archive",
        tags=TAGS,
        request=s.OffsetIdIn,
        responses={
            200: data_schema("OffsetArchiveResponse", OFFSET_CONFIG),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.OffsetIdIn, request_body(request))
        config = services.offset_notification_archive(
            config=_config(data["id"]), now=timezone.now()
        )
        return envelope(out.offset_json(config))


class OffsetEditView(APIView):
    @extend_schema(
        operation_id="v2_notifications_offset_edit",
        tags=TAGS,
        request=s.OffsetEditIn,
        responses={
            200: data_schema("OffsetEditResponse", OFFSET_CONFIG),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.OffsetEditIn, request_body(request))
        policy = data["policy"]
        if data.get("id") is None:
            if policy["type"] not in SYSTEM_TYPES:
                raise _bad(
                    "policy.type", f"'{policy['type']}' is not one of {', '.join(SYSTEM_TYPES)}."
                )
            if "is_enabled" not in data:
                raise _bad("is_enabled", "Required to switch a system notification on or off.")
            row = services.system_notification_set(
                type=policy["type"], is_enabled=data["is_enabled"]
            )
            return envelope(out.system_json(row.type, row.is_enabled))
        config = _config(data["id"])
        if policy["type"] != config.policy_type:
            raise _bad("policy.type", f"Must stay '{config.policy_type}'.")
        if "is_enabled" in data:
            raise _bad("is_enabled", "Only for system notifications (without an id).")
        try:
            services.offset_notification_edit(config=config, offset=_offset_of(policy))
        except ValueError as exc:
            raise _bad("policy.offset", str(exc)) from None
        return envelope(out.offset_json(config))


class SystemListView(APIView):
    @extend_schema(
        operation_id="v2_notifications_system_list",
        tags=TAGS,
        request=None,
        responses={200: page_schema("SystemListResponse", SYSTEM_CONFIG, cursor_field="cursor")},
    )
    def post(self, request):
        rows = [out.system_json(t, enabled) for t, enabled in system_notifications()]
        return Response({"data": rows, "cursor": None})
