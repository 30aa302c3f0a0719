"""Account hierarchies (Metronome's `hierarchy_configuration`): the shape of a commit's or
credit's `child_access` and who it lets draw. Plain functions, no queries.

A child contract names one parent contract; a parent's commit or credit says which of its
descendants (children, grandchildren...) may draw it: `{"type": "ALL"}` (every one),
`{"type": "NONE"}` or `{"type": "CONTRACT_IDS", "contract_ids": [...]}` (those listed, at any
depth). Not given (stored as null) is NONE: the SDK
documents no default, and a balance shared with nobody is what a contract had before."""

from __future__ import annotations

import uuid

ACCESS_TYPES = ("ALL", "NONE", "CONTRACT_IDS")
CHILD_ACCESS_HELP = (
    'Which child contracts may draw it: {"type": "ALL"}, {"type": "NONE"} or '
    '{"type": "CONTRACT_IDS", "contract_ids": [...]}. Empty: NONE.'
)


def child_access_errors(value) -> str | None:
    """What is wrong with a stored or given `child_access`, or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ACCESS_TYPES:
        return "Give child_access.type: ALL, NONE or CONTRACT_IDS."
    ids = value.get("contract_ids")
    if value["type"] != "CONTRACT_IDS":
        if ids is not None or set(value) - {"type"}:
            return f"child_access of type {value['type']} takes no other field."
        return None
    if set(value) - {"type", "contract_ids"}:
        return "child_access of type CONTRACT_IDS takes only contract_ids."
    if not isinstance(ids, list) or not ids:
        return "child_access of type CONTRACT_IDS needs a list of contract_ids."
    for item in ids:
        try:
            uuid.UUID(str(item))
        except ValueError:
            return f"child_access.contract_ids: {item!r} is not a contract id."
    return None


def child_access_normal(value) -> dict | None:
    """The stored form: contract ids as lowercase UUID text, in the given order, once each."""
    if value is None or value.get("type") != "CONTRACT_IDS":
        return None if value is None else {"type": value["type"]}
    ids = list(dict.fromkeys(str(uuid.UUID(str(item))) for item in value["contract_ids"]))
    return {"type": "CONTRACT_IDS", "contract_ids": ids}


def child_may_draw(value, child_contract_id) -> bool:
    """Whether a child contract may draw a balance with this `child_access`."""
    if not value:
        return False
    if value.get("type") == "ALL":
        return True
    if value.get("type") == "CONTRACT_IDS":
        return str(child_contract_id) in {str(item) for item in value.get("contract_ids", ())}
    return False


def shared_with_children(value) -> bool:
    """Whether a balance with this `child_access` may be drawn by some child (ALL or
    CONTRACT_IDS)."""
    return bool(value) and value.get("type") in ("ALL", "CONTRACT_IDS")


def child_access_json(value) -> dict | None:
    """Metronome's `hierarchy_configuration` of a commit or credit (None when not set)."""
    return None if value is None else {"child_access": child_access_normal(value)}
