"""Bearer-token authentication for every /v1/ and /v2/ endpoint."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from .models import ApiToken


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
        token = (
            ApiToken.objects.filter(token_hash=ApiToken.hash(raw), revoked_at__isnull=True)
            .only("id", "name")
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return ApiTokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
