"""Tests: the same database selection as everywhere (SQLite file or DATABASE_URL), fast hashing."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
Q_CLUSTER = {"name": "billing-test", "orm": "default", "sync": True, "timeout": 60, "retry": 120}
