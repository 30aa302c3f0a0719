"""Bearer-token authentication and token scopes for every /v1/ and /v2/ endpoint.

A token's scope decides what it may call (`TokenScopePermission`, the project's default permission
class): `full` everything; `read` every GET and the POST endpoints that only read (Metronome's
`/list`, `/get`, `/v1/usage`, ... whose views say `token_scope = "read"`); `ingest` only the views
that say `token_scope = "ingest"` (`POST /v1/ingest`).

A token is read in one prepared, indexed query, which also returns `last_used_at`, on every
request, except for the views that ask for it again where they write (`token_rechecked = True`:
`POST /v1/ingest`). Those keep it in the process for `API_TOKEN_CACHE_SECONDS` (5 s by default; 0
reads it on every request), keyed by the token's hash, and hand the store `TokenStillValid`: on
PostgreSQL a condition inside the one ingest statement (the token row not revoked, not expired, a
scope that may ingest), elsewhere a query in the write's transaction. So the ingest hot path runs
its one statement and nothing else, and a token revoked, expired or deleted by any means (the
admin, the service, a plain UPDATE from another process) is refused from the moment that change
commits, in every process: no request is accepted on a stale token. Only tokens found are kept (a
new token works at once; a wrong one is asked for every time). A save or delete of a token also
clears it from the cache of the process that made it (`post_save`/`post_delete`, and again when
the transaction commits). `last_used_at` is written at most once a minute per token (a
conditional UPDATE, so several web workers write it once between them), never once per request.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import authentication, exceptions, permissions

from .db import fetch_one
from .models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)
SAFE_METHODS = frozenset(permissions.SAFE_METHODS)
DEFAULT_CACHE_SECONDS = 5.0
# Distinct tokens kept per process; past it the cache starts again empty.
CACHE_MAX_TOKENS = 10_000


class ApiTokenUser(AnonymousUser):
    """The caller behind an API token: authenticated, not a Django user."""

    def __init__(self, token: ApiToken):
        super().__init__()
        self.token = token

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"api:{self.token.name}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        now = timezone.now()
        view = (request.parser_context or {}).get("view")
        if getattr(view, "token_rechecked", False):
            token = _cached_token(ApiToken.hash(raw), now=now)
        else:
            token = _active_token(ApiToken.hash(raw), now=now)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        return ApiTokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword


_cache: dict[str, tuple[float, ApiToken]] = {}
_cache_lock = threading.Lock()
# Counts the forgets: a token read before one is not kept (the row may have changed since).
_forgets = [0]


def _cached_token(token_hash: str, *, now: datetime) -> ApiToken | None:
    """`_active_token`, answered from this process's cache when it read the token less than
    `API_TOKEN_CACHE_SECONDS` ago (expiry and the last-used minute are still checked here)."""
    seconds = getattr(settings, "API_TOKEN_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    if seconds <= 0:
        return _active_token(token_hash, now=now)
    found = _cache.get(token_hash)
    if found is not None and time.monotonic() - found[0] < seconds:
        token = found[1]
        if token.expires_at is not None and now >= token.expires_at:
            return None
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            _touch(token, now=now)
        return token
    read_at = time.monotonic()
    forgets = _forgets[0]
    token = _active_token(token_hash, now=now)
    with _cache_lock:
        if token is None:
            _cache.pop(token_hash, None)
        elif forgets == _forgets[0]:
            if len(_cache) >= CACHE_MAX_TOKENS:
                _cache.clear()
            _cache[token_hash] = (read_at, token)
    return token


def api_tokens_forget(token_hash: str | None = None) -> None:
    """Drop a token (by hash), or every token, from this process's cache."""
    with _cache_lock:
        _forgets[0] += 1
        if token_hash is None:
            _cache.clear()
        else:
            _cache.pop(token_hash, None)


def forget_saved_token(sender, instance: ApiToken, **kwargs) -> None:
    """A token saved or deleted (revoked, expired, renamed) is read again on its next use: now,
    and once more when the transaction commits; a request that read the row before either does
    not keep what it read."""
    api_tokens_forget(instance.token_hash)
    transaction.on_commit(lambda: api_tokens_forget(instance.token_hash))


def _active_token(token_hash: str, *, now: datetime) -> ApiToken | None:
    """The unrevoked, unexpired token with this hash. Every API request asks, ingest's hot path
    included, so this is one prepared indexed query rather than a compiled queryset (about half
    a millisecond less per request)."""
    table = connection.ops.quote_name(ApiToken._meta.db_table)
    row = fetch_one(
        f"SELECT id, name, scope, expires_at, last_used_at FROM {table} "
        "WHERE token_hash = %s AND revoked_at IS NULL",
        [token_hash],
    )
    if row is None:
        return None
    token_id, name, scope, expires_at, last_used_at = (
        row[0],
        row[1],
        row[2],
        _aware(row[3]),
        _aware(row[4]),
    )
    if expires_at is not None and now >= expires_at:
        return None
    token = ApiToken(
        id=ApiToken._meta.pk.to_python(token_id),
        name=name,
        scope=scope,
        token_hash=token_hash,
        expires_at=expires_at,
        last_used_at=last_used_at,
    )
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        _touch(token, now=now)
    return token


# The token row still valid at a moment, with a scope that may ingest, as SQL (placeholders
# `{token}` and `{now}`): `TokenStillValid`.
_STILL_VALID = (
    "SELECT 1 FROM {table} WHERE token_hash = {token} AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > {now}) AND scope IN ({scopes})"
)


class TokenStillValid:
    """The admit hook of an ingest (`metering.stores.Admit`): the request's API token, asked
    again where the batch is written, at the request's `now`. `sql` and `params` are its form
    inside the relational store's ingest statement on PostgreSQL (no statement of its own);
    called, it is one query (SQLite, inside the write's transaction; ClickHouse, before it)."""

    def __init__(self, token: ApiToken, *, now: datetime):
        self.token_hash = token.token_hash
        self.now = now
        self.params = {"admit_token": token.token_hash, "admit_now": now}

    @property
    def sql(self) -> str:
        return f"EXISTS ({_still_valid_sql('%(admit_token)s', '%(admit_now)s')})"

    def __call__(self) -> bool:
        return fetch_one(_still_valid_sql("%s", "%s"), [self.token_hash, self.now]) is not None


def _still_valid_sql(token: str, now: str) -> str:
    scopes = ", ".join(
        f"'{scope}'"
        for scope in ApiToken.Scope.values
        if token_scope_allows(scope, method="POST", view_scope=ApiToken.Scope.INGEST)
    )
    table = connection.ops.quote_name(ApiToken._meta.db_table)
    return _STILL_VALID.format(table=table, token=token, now=now, scopes=scopes)


def token_still_valid(request, *, now: datetime) -> TokenStillValid | None:
    """The hook for a request authenticated by an API token (None for a session)."""
    token = request.auth
    return TokenStillValid(token, now=now) if isinstance(token, ApiToken) else None


def token_refused(request) -> exceptions.AuthenticationFailed:
    """What to raise when the store said the request's token is no longer valid: it is
    forgotten here too, so the next request is refused before it reaches the store."""
    api_tokens_forget(request.auth.token_hash)
    return exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")


def _aware(value) -> datetime | None:
    """A timestamp column as an aware UTC datetime (SQLite's raw cursor gives naive UTC text)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _touch(token: ApiToken, *, now: datetime) -> None:
    """Record the use, unless another worker already did within the minute."""
    ApiToken.objects.filter(pk=token.pk).exclude(
        last_used_at__gt=now - LAST_USED_RESOLUTION
    ).update(last_used_at=now)
    token.last_used_at = now


def token_scope_allows(scope: str, *, method: str, view_scope: str | None) -> bool:
    """Whether a token of `scope` may call a view that declares `view_scope` with `method`."""
    if scope == ApiToken.Scope.FULL:
        return True
    if scope == ApiToken.Scope.INGEST:
        return view_scope == ApiToken.Scope.INGEST
    if scope == ApiToken.Scope.READ:
        return view_scope != ApiToken.Scope.INGEST and (
            method in SAFE_METHODS or view_scope == ApiToken.Scope.READ
        )
    return False


class TokenScopePermission(permissions.BasePermission):
    """Authenticated, and the token's scope covers this call (403 saying so otherwise).

    A view marks what it needs with `token_scope`: "ingest" (`POST /v1/ingest`: `ingest` and
    `full` tokens), "read" (a POST that only reads: `read` and `full`); unmarked, a GET is a read
    and anything else needs `full`.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        token = getattr(user, "token", None)
        if token is None:
            return True
        view_scope = getattr(view, "token_scope", None)
        if token_scope_allows(token.scope, method=request.method, view_scope=view_scope):
            return True
        raise exceptions.PermissionDenied(
            f"This API token's scope is '{token.scope}', which does not allow "
            f"{request.method} {request.path}."
        )
