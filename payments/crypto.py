"""Secrets at rest: provider keys and webhook signing secrets are stored encrypted (Fernet, keyed
from SECRET_KEY; SECRET_KEY_FALLBACKS still decrypt after a key rotation) and shown masked."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(f"payments.secrets:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(plain: str) -> str:
    return _keys().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored provider secret cannot be decrypted with SECRET_KEY (or "
            "SECRET_KEY_FALLBACKS): the key changed. Enter the secret again in Billing providers."
        ) from None


def mask(secret: str) -> str:
    """`sk_test_…a1b2`: the prefix that says which kind of key, and the last four characters."""
    if not secret:
        return ""
    head = secret.rsplit("_", 1)[0] + "_" if "_" in secret[:12] else ""
    return f"{head}…{secret[-4:]}"


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database and plain in Python."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
