from django.urls import path

from .views import AuditLogListView

urlpatterns = [path("v1/auditLogs", AuditLogListView.as_view(), name="v1-audit-logs")]
