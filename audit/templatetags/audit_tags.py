"""`{% audit_history object %}`: an object's audit trail on its admin "History" page."""

from django import template
from django.template.loader import render_to_string

from ..selectors import audit_entries_for, field_changes

register = template.Library()

SHOWN = 100


@register.simple_tag
def audit_history(obj) -> str:
    entries = list(audit_entries_for(obj)[: SHOWN + 1])
    rows = [
        {
            "entry": entry,
            "action": entry.get_action_display(),
            "changes": field_changes(entry),
        }
        for entry in entries[:SHOWN]
    ]
    return render_to_string(
        "admin/audit/object_history.html", {"rows": rows, "more": len(entries) > SHOWN}
    )
