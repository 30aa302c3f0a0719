"""Embeddable dashboards: what a signed dashboard URL carries, and its checks.

`POST /v1/dashboards/getEmbeddableUrl` answers a URL on this server whose path holds a token made
with Django's signing (HMAC of SECRET_KEY, salted for this use, timestamped): the customer, the
dashboard and Metronome's color overrides, dashboard options and group key display names. The
pages and their JSON read nothing else from the request that could widen what they show: the
customer is the token's, every id in a URL is looked up within it, and a token past its age
(`DASHBOARD_EMBED_MAX_AGE`, 24 hours by default) or changed by one character is refused."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core import signing

SALT = "dashboards.embed"
DASHBOARDS = ("invoices", "usage", "commits_and_credits")
# Metronome's older name for the commits and credits dashboard.
ALIASES = {"credits": "commits_and_credits"}

# Metronome's color names and the CSS custom property each sets on the pages.
COLORS = {
    "Gray_dark": "--gray-dark",
    "Gray_medium": "--gray-medium",
    "Gray_light": "--gray-light",
    "Gray_extralight": "--gray-extralight",
    "White": "--white",
    "Primary_medium": "--primary-medium",
    "Primary_light": "--primary-light",
    **{f"UsageLine_{n}": f"--usage-line-{n}" for n in range(10)},
    "Primary_green": "--primary-green",
    "Primary_red": "--primary-red",
    "Progress_bar": "--progress-bar",
    "Progress_bar_background": "--progress-bar-background",
    "Action": "--action",
    "Action_hover": "--action-hover",
}
HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

BOOLEAN = ("true", "false")
# Metronome's dashboard options and the values each takes (None: checked elsewhere).
OPTIONS = {
    "show_zero_usage_line_items": BOOLEAN,
    "contract_id": None,
    "invoice_type": ("USAGE", "SCHEDULED"),
    "invoice_status_filter": ("VOID", "FINALIZED", "DRAFT", "FINALIZED_AND_DRAFT", "ALL"),
    "hide_voided_invoices": BOOLEAN,
    "billable_status_filter": ("billable", "unbillable", "all"),
    "hide_grant_name": BOOLEAN,
    "credit_ledger_credit_type_id": None,
}


class EmbedError(ValueError):
    """A getEmbeddableUrl request that cannot be honoured: `field` says where."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Embed:
    """What one dashboard URL shows: one customer's dashboard, its colors, options and names."""

    customer_id: str
    dashboard: str
    colors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    # {group key: {"name": display name, "values": {value: display name}}}
    group_keys: dict[str, dict] = field(default_factory=dict)

    def flag(self, key: str) -> bool:
        return self.options.get(key) == "true"

    def css_variables(self) -> str:
        """`--primary-medium: #123456; ...` for the overridden colors (validated hex only)."""
        return "; ".join(f"{COLORS[name]}: {value}" for name, value in sorted(self.colors.items()))

    def group_key_name(self, key: str) -> str:
        return self.group_keys.get(key, {}).get("name") or key

    def group_value_name(self, key: str, value: str) -> str:
        return self.group_keys.get(key, {}).get("values", {}).get(value) or value


def max_age() -> timedelta:
    return getattr(settings, "DASHBOARD_EMBED_MAX_AGE", timedelta(hours=24))


def embed_of(
    *,
    customer_id: str,
    dashboard: str,
    color_overrides: list | None = None,
    dashboard_options: list | None = None,
    bm_group_key_overrides: list | None = None,
) -> Embed:
    """Validate Metronome's getEmbeddableUrl arguments into an `Embed` (EmbedError names the
    field). Whether a `contract_id` option belongs to the customer is the caller's check."""
    dashboard = ALIASES.get(dashboard, dashboard)
    if dashboard not in DASHBOARDS:
        raise EmbedError(
            "dashboard",
            f"'{dashboard}' is not one of invoices, usage, credits, commits_and_credits.",
        )
    colors: dict[str, str] = {}
    for index, item in enumerate(color_overrides or []):
        where = f"color_overrides[{index}]"
        if not isinstance(item, dict) or item.get("name") not in COLORS:
            raise EmbedError(f"{where}.name", "Must be one of Metronome's color names.")
        value = item.get("value")
        if not isinstance(value, str) or not HEX.fullmatch(value):
            raise EmbedError(f"{where}.value", "Must be a hex color such as #1a56b8.")
        colors[item["name"]] = value
    options: dict[str, str] = {}
    for index, item in enumerate(dashboard_options or []):
        where = f"dashboard_options[{index}]"
        if not isinstance(item, dict) or item.get("key") not in OPTIONS:
            raise EmbedError(f"{where}.key", f"Must be one of {', '.join(OPTIONS)}.")
        key, value = item["key"], item.get("value")
        if not isinstance(value, str):
            raise EmbedError(f"{where}.value", "Must be a string.")
        allowed = OPTIONS[key]
        if allowed is None:
            try:
                value = str(uuid.UUID(value))
            except ValueError:
                raise EmbedError(f"{where}.value", f"'{value}' is not a valid UUID.") from None
        elif value not in allowed:
            raise EmbedError(f"{where}.value", f"Must be one of {', '.join(allowed)}.")
        options[key] = value
    group_keys: dict[str, dict] = {}
    for index, item in enumerate(bm_group_key_overrides or []):
        where = f"bm_group_key_overrides[{index}]"
        name = item.get("group_key_name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise EmbedError(f"{where}.group_key_name", "This field is required.")
        display = item.get("display_name") or ""
        values = item.get("value_display_names") or {}
        if not isinstance(display, str) or not isinstance(values, dict):
            raise EmbedError(where, "display_name is a string, value_display_names an object.")
        group_keys[name] = {"name": display, "values": {str(k): str(v) for k, v in values.items()}}
    return Embed(str(customer_id), dashboard, colors, options, group_keys)


def embed_token(embed: Embed) -> str:
    return signing.dumps(
        {
            "c": embed.customer_id,
            "d": embed.dashboard,
            "k": embed.colors,
            "o": embed.options,
            "g": embed.group_keys,
        },
        salt=SALT,
        compress=True,
    )


class InvalidEmbed(Exception):
    """A dashboard URL whose token was changed, or is older than its maximum age."""


def embed_from_token(token: str) -> Embed:
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise InvalidEmbed("This dashboard link has expired.") from None
    except signing.BadSignature:
        raise InvalidEmbed("This dashboard link is not valid.") from None
    return Embed(data["c"], data["d"], data["k"], data["o"], data["g"])
